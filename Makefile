# Two commands do all set-up on a fresh machine: `make run` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
UV     := $(VENV)/bin/uv
EXTRAS ?= dev,snowflake,bigquery
# The BigQuery emulator pins another DuckDB: it gets its own virtualenv.
BQ_EMULATOR := .venv-bigquery-emulator/bin/crucible

.PHONY: install run test test-slow test-spark dev lint bench clean bigquery-emulator

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check uv==0.13.8
	$(UV) pip install --python $(PY) -q --compile-bytecode -e '.[$(EXTRAS)]'
	@touch $(STAMP)

install: $(STAMP)

## Materialise the whole asset graph on embedded DuckDB against the local vendor simulators.
run: install
	$(VENV)/bin/edp run

## The test suite (fast tests; slow and Spark ones have their own targets).
test: install
	$(VENV)/bin/pytest -q

test-slow: install $(BQ_EMULATOR)
	$(VENV)/bin/pytest -q -m slow || [ $$? -eq 5 ]  # 5: no slow tests selected

$(BQ_EMULATOR):
	@test -x .venv-bigquery-emulator/bin/python || python3 -m venv .venv-bigquery-emulator
	.venv-bigquery-emulator/bin/python -m pip install -q --disable-pip-version-check 'crucible-emulator[server]==0.1.0a2'

bigquery-emulator: $(BQ_EMULATOR)

## Splink on Spark (needs Java 17; installs the `spark` extra).
test-spark: install
	$(UV) pip install --python $(PY) -q --compile-bytecode -e '.[dev,spark]'
	$(VENV)/bin/pytest -q -m spark

## The Dagster UI on http://127.0.0.1:3000 with the simulators running.
dev: install
	$(VENV)/bin/edp dev

lint: install
	$(VENV)/bin/ruff check email_data_platform email_data_platform_tests benchmarks

bench: install
	$(PY) benchmarks/run.py --contacts 100000

clean:
	rm -rf .edp
