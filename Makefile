# Sundial — the README's commands. Everything else is plumbing for them.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: run test bench soak lint venv venv-dev migrate seed clean

## make run: install, migrate, seed the demo (empty database only), start web + worker + scheduler + listener + Exchange simulator
run:
	@bash scripts/run.sh

## make test: install test deps (and redis-server / chromium when missing), run the whole suite
test:
	@bash scripts/test.sh

## make bench: every benchmarks/bench_*.py, tables printed and written under benchmarks/results/ (QUICK=1: quick modes)
bench: venv-dev
	@bash scripts/bench.sh

## make soak: the fault soak — whole system, random faults, both sides checked (SOAK_ARGS="--faults 200")
soak: venv-dev
	@bash scripts/soak.sh $(SOAK_ARGS)

lint: venv-dev
	$(VENV)/bin/ruff check portal ews_simulator tests benchmarks

venv:
	@PYTHON=$(PYTHON) bash scripts/ensure-venv.sh requirements.txt

venv-dev:
	@PYTHON=$(PYTHON) bash scripts/ensure-venv.sh requirements-dev.txt

migrate: venv
	$(VENV)/bin/flask --app wsgi db upgrade

clean:
	rm -rf .run test-artifacts .pytest_cache
