# Weir: every target works from a fresh clone; the first one run creates .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WEIR := $(BIN)/weir
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup demo migrate build check status verify test faults lint proofs docs-proofs orchestrators bench bench-unit clean docs

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@# An editable install leaves Weir's own modules uncompiled (and PYTHONDONTWRITEBYTECODE
	@# would keep them so): compile them once, or every weir command spends ~0.05 s doing it.
	$(BIN)/python -m compileall -q runner
	touch $(STAMP)

setup: $(STAMP) ## Create .venv and install Weir with its test tools

LINT_STAMP := $(VENV)/.installed-lint

$(LINT_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,lint]'
	touch $(LINT_STAMP)

DEMO_SCALE ?= 100000

demo: $(STAMP) ## Run the example warehouse end to end on a fresh embedded PostgreSQL
	-@$(WEIR) db stop >/dev/null 2>&1
	rm -rf .weir
	$(WEIR) migrate
	$(WEIR) sample load --scale $(DEMO_SCALE)
	$(WEIR) build --threads 2
	$(WEIR) sample change --batch 1
	$(WEIR) build --threads 2
	$(WEIR) check --threads 2
	$(WEIR) status

migrate: $(STAMP) ## Apply pending migrations (embedded server unless WEIR_DSN is set)
	$(WEIR) migrate

build: $(STAMP) ## Build the models
	$(WEIR) build

JUNIT ?= reports/weir-junit.xml

check: $(STAMP) ## Migrate, build and check in one idempotent run, as CI does (JUnit in $(JUNIT))
	@mkdir -p $(dir $(JUNIT))
	$(WEIR) run --junit $(JUNIT)

status: $(STAMP) ## Show the state of every migration
	$(WEIR) status

verify: $(STAMP) ## Prove every rollback on a scratch database
	$(WEIR) verify

docs: $(STAMP) ## Regenerate docs/data/ from the SQL (weir docs; CI and pre-commit run weir docs --check)
	$(WEIR) docs

test: $(STAMP) ## Run the test suite (embedded server unless WEIR_TEST_DSN is set)
	$(BIN)/pytest --ignore=tests/proofs --ignore=tests/orchestrators $(PYTEST_ARGS)

FAULT_TRIALS ?= 20
FAULT_SCALE ?= 10000
FAULT_RECORD := $(VENV)/fault-trials.jsonl

faults: $(STAMP) ## Heavier fault trials (kill -9, concurrent runs, incremental == full) and their table
	rm -f $(FAULT_RECORD)
	WEIR_FAULT_TRIALS=$(FAULT_TRIALS) WEIR_FAULT_SCALE=$(FAULT_SCALE) WEIR_FAULT_RECORD=$(abspath $(FAULT_RECORD)) \
		$(BIN)/pytest -q tests/faults $(PYTEST_ARGS)
	$(BIN)/python tests/faults/report.py $(FAULT_RECORD)

lint: $(LINT_STAMP) ## Lint: ruff, mypy --strict on runner/, weir lint (Weir's reading, squawk, sqlfluff)
	$(BIN)/ruff check runner tests benchmarks
	$(BIN)/mypy
	$(WEIR) lint

proofs: $(LINT_STAMP) ## Slow proofs: pre-commit from a fresh clone, offline but for the package registry
	$(BIN)/pytest tests/proofs --ignore=tests/proofs/docs $(PYTEST_ARGS)

# make docs-proofs: npm's typescript, mermaid and puppeteer-core (package-lock.json) in node_modules,
# and the system Chromium (Debian's package; nothing downloads a browser).
NODE_STAMP := node_modules/.installed
CHROMIUM ?= /usr/bin/chromium

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

docs-proofs: $(LINT_STAMP) $(NODE_STAMP) ## Contracts compile (tsc, mypy --strict) and Mermaid diagrams render in Chromium
	@test -x $(CHROMIUM) || { echo "docs-proofs: $(CHROMIUM) is missing; installing Debian's chromium with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	WEIR_CHROMIUM=$(CHROMIUM) $(BIN)/pytest tests/proofs/docs $(PYTEST_ARGS)

# The exports under the real orchestrators, each in a cached environment of its own with Weir
# installed editable: pip takes minutes the first time, nothing after.
AIRFLOW_VERSION ?= 2.10.5
AIRFLOW_STAMP := .venv-airflow/.installed
DAGSTER_STAMP := .venv-dagster/.installed

$(AIRFLOW_STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv .venv-airflow
	.venv-airflow/bin/pip install --quiet --upgrade pip
	.venv-airflow/bin/pip install --quiet 'apache-airflow==$(AIRFLOW_VERSION)' -e .
	touch $@

$(DAGSTER_STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv .venv-dagster
	.venv-dagster/bin/pip install --quiet --upgrade pip
	.venv-dagster/bin/pip install --quiet dagster -e .
	touch $@

orchestrators: $(LINT_STAMP) $(AIRFLOW_STAMP) $(DAGSTER_STAMP) ## Run the Airflow and Dagster exports end to end under the real packages
	$(BIN)/pytest tests/orchestrators $(PYTEST_ARGS)

BENCH_SCALE ?= 1000000

bench: $(STAMP) ## Measure Weir against psql (the floor) and print ratios
	$(BIN)/python benchmarks/migrations.py
	$(BIN)/python benchmarks/build.py $(BENCH_SCALE)
	$(BIN)/python benchmarks/checks.py $(BENCH_SCALE)
	$(BIN)/python benchmarks/docs.py
	$(BIN)/python benchmarks/lineage.py
	$(BIN)/python benchmarks/seeds.py $(BENCH_SCALE)
	$(BIN)/python benchmarks/warm_library.py $(BENCH_SCALE)
	$(BIN)/python benchmarks/partitions.py $(BENCH_SCALE)
	$(BIN)/python benchmarks/plan.py
	$(BIN)/python benchmarks/atomic.py 2000000

bench-unit: $(STAMP) ## Time 100 unit tests (weir test) on the embedded server; target <= 5 s
	$(BIN)/python benchmarks/unit_tests.py

clean: ## Stop the embedded server and remove .venv and .weir
	-$(WEIR) db stop
	rm -rf $(VENV) .weir .venv-airflow .venv-dagster
