# taglake: two commands on a fresh machine.
#   make demo   set everything up, generate the small lake, build it on DuckDB, print a summary and a sample query
#   make test   set everything up and run every test (lint included)
# Nothing is installed by hand: `setup` makes .venv from requirements.lock (PyPI only).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

.PHONY: help setup postgres demo test lint lint-python lint-sql generate build run-daily docs docs-serve verify clean lock test-fast lineage venv-airflow venv-datahub venv-checkov venv-pyspark venv-awscli java mwaa-bundle infra-check infra-render lambda-package dashboard chromium test-dashboard

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)  ## create .venv with the pinned toolchain (dbt-core 1.11, adapters, sqlfluff, moto, …)

# PostgreSQL server binaries for the replication tests (tests_py/replicate/; they start their own server on
# 127.0.0.1): on PATH, else Debian's /usr/lib/postgresql/<v>/bin, else Debian's package is installed (needs root).
PG_BIN = $(shell command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1 && echo on-path || ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

postgres:  ## PostgreSQL's initdb and pg_ctl for the replication tests: Debian's package when they are missing
	@if [ -n "$(PG_BIN)" ]; then echo "postgres: server binaries found ($(PG_BIN))"; \
	else echo "postgres: installing Debian's postgresql package"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; fi

demo: setup  ## make the masking key if none, generate the small lake, build it quietly (dbt's log: logs/dbt.log), print a summary
	@$(BIN)/taglake keys init --if-missing
	@$(BIN)/taglake demo

# The fast lane's tests: pure Python, no dbt build, no hostile lake, no tool venv, no server. They share nothing on
# disk, so pytest-xdist spreads them over the cores, a file to a worker (its fixtures are made once). The rest are
# spread over the cores too, a file to a worker: each worker makes the session's shared build once, the tool venvs
# are made under a lock (scripts/tool_venv.sh), servers take free ports on 127.0.0.1, and much of their time is one
# core's (dbt's parse and compile, Airflow's imports), so two workers finish about a quarter sooner than one.
FAST_TESTS = not dbt and not redteam and not airflow and not lineage and not tool_venv and not infra and not spark and not browser and not replication and not fuzz
# Nor do they collect the fuzz modules or load hypothesis and schemathesis (6 s of imports in every worker).
FAST_ARGS = -n auto --dist loadfile -p no:schemathesis -p no:hypothesispytest --ignore-glob="*_fuzz.py"
SLOW_ARGS = -n auto --dist loadfile

test: setup postgres chromium lint  ## run every test: lint, then pytest (the fast lane's tests over the cores, then the rest, over the cores too)
	$(BIN)/pytest $(FAST_ARGS) -m "$(FAST_TESTS)"
	$(BIN)/pytest $(SLOW_ARGS) -m "not ($(FAST_TESTS))"

test-fast: setup  ## the inner loop: ruff, then the pure-Python tests (no dbt build, no hostile lake, no tool venv, no PostgreSQL server)
	$(BIN)/ruff check taglake tests_py dags dashboards
	$(BIN)/pytest -q $(FAST_ARGS) -m "$(FAST_TESTS)"

lint: lint-python lint-sql  ## ruff and sqlfluff

lint-python: setup
	$(BIN)/ruff check taglake tests_py dags dashboards
	$(BIN)/ruff format --check taglake tests_py dags dashboards

# sqlfluff only warns when it cannot template a file (dbt failed to compile it, it is not in the project, it is over
# the size limit) or cannot map the compiled SQL back onto the file (`Length of templated file mismatch`: part of the
# file goes unlinted), and lints the rest: either fails the target. A model disabled on this target is skipped as usual.
lint-sql: setup
	mkdir -p build
	{ $(BIN)/sqlfluff lint models analyses tests snapshots 2>&1; echo $$? > build/sqlfluff-lint.status; } \
	  | tee build/sqlfluff-lint.log; \
	status=$$(cat build/sqlfluff-lint.status); \
	if grep -qE 'because dbt raised|not found in dbt project|to avoid parser lock|templated file mismatch' build/sqlfluff-lint.log; then \
	  echo "lint-sql: sqlfluff skipped a file, or part of one, it could not template (build/sqlfluff-lint.log)" >&2; exit 1; fi; \
	exit $$status

generate: setup  ## write the small synthetic lake to lake/ (taglake generate --help for sizes)
	$(BIN)/taglake generate

build: setup  ## dbt deps + dbt build on the local target
	$(BIN)/taglake build

# The local lake is synthetic and dated in the past: the simulated day appends the next landing day first, and
# lets freshness report the lake as stale without stopping. In production: `taglake run-daily --target athena`.
RUN_DAILY_ARGS ?= --append-day --allow-stale

run-daily: setup  ## simulate the next day: append it to lake/, freshness, incremental build, leak scan
	$(BIN)/taglake run-daily $(RUN_DAILY_ARGS)

docs: setup  ## the tag blocks (taglake tag-docs), then dbt docs generate (target/index.html); then `make docs-serve`
	$(BIN)/taglake tag-docs
	$(BIN)/taglake dbt docs generate

DOCS_PORT ?= 8080

docs-serve: docs  ## serve the docs site on http://127.0.0.1:8080 (this machine only; DOCS_PORT=… to change)
	$(BIN)/taglake dbt docs serve --host 127.0.0.1 --port $(DOCS_PORT) --no-browser

# --- dashboards (dashboards/, docs/dashboards.md): Streamlit over the consumption marts, on this machine only ---
DASHBOARD_PORT ?= 8501
DASHBOARD_ARGS ?= --target local

dashboard: setup  ## after `make demo`: serve the dashboards on http://127.0.0.1:8501 (DASHBOARD_PORT=… to change)
	$(BIN)/streamlit run dashboards/app.py --server.address 127.0.0.1 --server.port $(DASHBOARD_PORT) \
	  --server.headless true --browser.gatherUsageStats false --client.toolbarMode minimal -- $(DASHBOARD_ARGS)

chromium:  ## Debian's chromium for the browser tests (apt-get installs it when /usr/bin/chromium is missing)
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq --no-install-recommends chromium; }

test-dashboard: setup chromium  ## the dashboards' tests: AppTest per page, then a real headless Chromium
	$(BIN)/pytest -q -m "dashboard or browser"

verify: setup  ## prove the Athena and Redshift targets offline: compile, parse, conformance with the local build
	$(BIN)/taglake verify

lock:  ## re-pin requirements.lock from the current .venv
	{ echo "# Exact versions installed by \`make setup\` (pip install -r requirements.lock). Regenerate with \`make lock\`."; \
	  $(BIN)/pip freeze --exclude-editable | grep -v '^taglake'; } > requirements.lock

lineage: setup  ## after `make demo`: DataHub's view of the lake (dbt artifacts + raw Glue catalog) in target/lineage/
	@test -f target/manifest.json || { echo "make lineage: no target/manifest.json: run \`make demo\` first" >&2; exit 2; }
	@venv=$$($(TOOL_VENV) datahub requirements/datahub.txt $(PYTHON)) && \
	  $(BIN)/taglake lineage datahub --docs --datahub-venv "$$venv"

clean:  ## remove build output and the generated lake (keeps .venv)
	rm -rf build target logs dbt_packages lake

# --- tool environments (requirements/README.md): their own venv under ~/.cache/taglake/venvs, keyed by a hash ---
# The first Python 3.12 that runs (a pyenv shim for a version not selected exists but fails), else python3.11.
PYTHON_MWAA ?= $(shell for p in $$(command -v python3.12) $$(ls -d $(HOME)/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null) $$(command -v python3.11); do "$$p" -c '' 2>/dev/null && echo "$$p" && break; done)
TOOL_VENV := scripts/tool_venv.sh

venv-airflow:  ## Airflow 3.3.1 + astronomer-cosmos (MWAA's Python 3.12 where present) in its own cached venv
	@$(TOOL_VENV) airflow requirements/airflow.txt $(PYTHON_MWAA)

mwaa-bundle: setup  ## lay out the MWAA bucket under build/mwaa: DAG, requirements, startup script, dbt project + manifest
	$(BIN)/taglake mwaa-bundle --target $(or $(BUNDLE_TARGET),athena) --out build/mwaa

venv-datahub:  ## acryl-datahub in its own cached venv
	@$(TOOL_VENV) datahub requirements/datahub.txt $(PYTHON)

venv-checkov:  ## checkov in its own cached venv
	@$(TOOL_VENV) checkov requirements/checkov.txt $(PYTHON)

venv-awscli:  ## the AWS CLI (v1, its botocore pin conflicts with requirements.lock) in its own cached venv, for the docs test
	@$(TOOL_VENV) awscli requirements/awscli.txt $(PYTHON)

venv-pyspark: java  ## PySpark in its own cached venv (and Java, which Spark runs on)
	@$(TOOL_VENV) pyspark requirements/pyspark.txt $(PYTHON)

java:  ## a Java runtime for Spark: Debian's OpenJDK 17 when no java is on PATH
	@command -v java >/dev/null 2>&1 || { apt-get update -qq >&2 && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >&2; }

# --- the AWS estate as CloudFormation (infra/, docs/deployment.md § The AWS estate) ---
infra-render: setup  ## write the generated stacks (roles, catalog, lake-formation, monitoring) to infra/stacks/
	$(BIN)/taglake infra render

infra-check: setup  ## lint infra/: generated stacks current, cfn-lint, checkov (own venv), every suppression explained
	@venv=$$($(TOOL_VENV) checkov requirements/checkov.txt $(PYTHON)) && \
	  $(BIN)/taglake infra check --checkov-venv "$$venv"

# The ingestion Lambda's package: taglake + requirements/lambda.txt for python3.12 on arm64 (ingest.yaml's runtime),
# zipped to build/lambda/taglake-ingest.zip; upload it to the LambdaCodeBucket/LambdaCodeKey the ingest stack names.
lambda-package: setup  ## zip the ingestion Lambda (taglake + requirements/lambda.txt) to build/lambda/taglake-ingest.zip
	rm -rf build/lambda && mkdir -p build/lambda/pkg
	$(BIN)/python -m pip install --quiet --target build/lambda/pkg --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 \
	  --implementation cp --python-version 3.12 --only-binary=:all: -r requirements/lambda.txt
	git ls-files -z taglake | xargs -0 -I{} cp --parents {} build/lambda/pkg/
	cd build/lambda/pkg && find . -name __pycache__ -prune -o -type f -print | sort | zip -q -X ../taglake-ingest.zip -@
	@echo "build/lambda/taglake-ingest.zip"
