# Weir: every target works from a fresh clone; the first one run creates .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WEIR := $(BIN)/weir
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup demo migrate build check status verify test faults lint proofs bench clean

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

test: $(STAMP) ## Run the test suite (embedded server unless WEIR_TEST_DSN is set)
	$(BIN)/pytest --ignore=tests/proofs $(PYTEST_ARGS)

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
	$(BIN)/pytest tests/proofs $(PYTEST_ARGS)

BENCH_SCALE ?= 1000000

bench: $(STAMP) ## Measure Weir against psql (the floor) and print ratios
	$(BIN)/python benchmarks/migrations.py
	$(BIN)/python benchmarks/build.py $(BENCH_SCALE)
	$(BIN)/python benchmarks/checks.py $(BENCH_SCALE)
	$(BIN)/python benchmarks/lineage.py
	$(BIN)/python benchmarks/plan.py

clean: ## Stop the embedded server and remove .venv and .weir
	-$(WEIR) db stop
	rm -rf $(VENV) .weir
