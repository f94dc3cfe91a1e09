# Smart Leeds Rewards — `make up` starts everything, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := shared services/points services/transit-ingest services/redemption services/notifications services/impact
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))

.PHONY: up down test unit integration e2e fuzz lint bench bench-all chaos clean venv

$(STAMP): $(PYPROJECTS) requirements-dev.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -r requirements-dev.txt $(addprefix -e ,$(PACKAGES))
	touch $(STAMP)

venv: $(STAMP)

up: $(STAMP)
	$(BIN)/rewards stack up

down:
	@if [ -x $(BIN)/rewards ]; then $(BIN)/rewards stack down; fi

test: $(STAMP)
	$(BIN)/python -m pytest tests --ignore=tests/benchmarks $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

# Every API under schemathesis for longer than `make test` does (FUZZ_EXAMPLES per operation and role).
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-100} $(BIN)/python -m pytest tests/e2e/test_api_fuzz.py $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check shared services tests

bench: $(STAMP)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -q wrk >/dev/null; } || \
		echo "wrk is missing (apt-get install wrk): the HTTP figures will be skipped"
	$(BIN)/python -m tests.benchmarks.pipeline $(BENCH_ARGS)

bench-all: bench
	$(BIN)/python -m pytest tests/benchmarks -s $(PYTEST_ARGS)

# A bad day at full size (its own stack, slot CHAOS_SLOT=9): CHAOS_TAPS, CHAOS_MEMBERS… or CHAOS_ARGS="--taps N".
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos.scenario $(CHAOS_ARGS)

clean: down
	rm -rf "$$(bash deploy/local/state-dir.sh --no-create)" .local $(VENV)
