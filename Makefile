# One entry point for people and CI. Every target bootstraps what it needs.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False
export PYTHONPATH := $(CURDIR)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: bootstrap airflow-db settings demo up test lock clean bench

bootstrap:
	@scripts/bootstrap.sh

$(AIRFLOW_HOME)/airflow.db: | bootstrap
	@mkdir -p $(AIRFLOW_HOME)
	@$(VENV)/bin/airflow db migrate >/dev/null

# Airflow writes load_examples = True into the airflow.cfg it generates; this home never loads examples.
airflow-db: bootstrap $(AIRFLOW_HOME)/airflow.db
	@sed -i 's/^load_examples = True$$/load_examples = False/' $(AIRFLOW_HOME)/airflow.cfg

settings: airflow-db
	$(PY) -m include.migration.commands.settings airflow_settings.yaml

demo: airflow-db
	$(PY) -m include.migration.commands.demo

# make up [PORT=8080] [REMOTE_PORT=8000] [FRESH=1] [ARGS=--help]
PORT ?= 8080
REMOTE_PORT ?= 8000
up: airflow-db
	@$(PY) -m include.migration.commands.up --port $(PORT) --remote-port $(REMOTE_PORT) $(if $(FRESH),--fresh) $(ARGS)

test: airflow-db
	@scripts/bootstrap.sh test
	$(PY) -m pytest tests $(PYTEST_ARGS)

# The transfer against the ceiling and the peers: `make bench` (1,000,000 rows), `make bench ROWS=100000`,
# `make bench BENCH_ARGS="--rows 10000 --quick"`; figures in .test-artifacts/bench.json.
bench: airflow-db
	$(PY) -m include.benchmarks $(if $(ROWS),--rows $(ROWS)) $(BENCH_ARGS)

lock:
	$(VENV)/bin/uv pip compile -q requirements.txt -o requirements.lock --no-header --no-annotate
	echo "uv==0.13.8" >> requirements.lock

clean:
	rm -rf $(VENV) $(AIRFLOW_HOME) .demo .test-artifacts
