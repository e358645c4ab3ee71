#!/usr/bin/env bash
# make soak: the fault soak (benchmarks/soak.py) — the whole system under random faults, both sides compared at
# the end. Needs redis-server and a local PostgreSQL (SUNDIAL_TEST_DATABASE_URL, default
# postgresql://postgres@127.0.0.1:5432/test; the soak creates and drops its own database there).
# Arguments go to the soak: `make soak SOAK_ARGS="--faults 200 --seed 7"`. Default: 1,000 faults (≈ 80 min).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3} bash scripts/ensure-venv.sh requirements-dev.txt
command -v redis-server >/dev/null 2>&1 || { echo "The soak needs redis-server (apt-get install redis-server)." >&2; exit 1; }
mkdir -p benchmarks/results
exec .venv/bin/python benchmarks/soak.py "$@"
