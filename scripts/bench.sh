#!/usr/bin/env bash
# make bench: run every benchmark; each prints a Markdown table and writes benchmarks/results/<name>.md
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p benchmarks/results
# QUICK=1 make bench: the benchmarks that have a quick mode (fewer mailboxes / staff) run in it
for b in benchmarks/bench_*.py; do
  echo "== $b"
  if [ -n "${QUICK:-}" ] && grep -q -- "--quick" "$b"; then
    .venv/bin/python "$b" --quick
  else
    .venv/bin/python "$b"
  fi
done
