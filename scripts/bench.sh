#!/usr/bin/env bash
# make bench: run every benchmark; each prints a Markdown table and writes benchmarks/results/<name>.md
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p benchmarks/results
for b in benchmarks/bench_*.py; do
  echo "== $b"
  .venv/bin/python "$b"
done
