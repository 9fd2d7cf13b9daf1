# Flowlet — `make run` serves the API, `make test` runs the whole suite. `make help` lists all.
SHELL := /bin/bash
PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export HOST PORT

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/.installed: backend/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e 'backend[test]'
	@touch $@

.PHONY: install
install: $(BIN)/.installed ## Create .venv and install the backend with its test tools

.PHONY: run
run: install ## Migrate, seed demo data and serve at http://$(HOST):$(PORT)
	cd backend && $(BIN)/flask --app main init-db && $(BIN)/flask --app main seed-demo
	cd backend && ./run.sh

.PHONY: test
test: lint ## Lint and run the whole test suite (PostgreSQL and Redis on 127.0.0.1)
	cd backend && $(BIN)/pytest -n $${PYTEST_WORKERS:-2} --dist loadfile

.PHONY: bench
bench: install ## Benchmarks: transfers and card authorizations (gunicorn vs pgbench), reads at 1M entries (minutes)
	$(BIN)/python bench/transfers.py
	$(BIN)/python bench/cards.py
	$(BIN)/python bench/reads.py

.PHONY: lint
lint: install ## ruff check and format check (backend and bench)
	$(BIN)/ruff check backend bench && $(BIN)/ruff format --check backend bench

.PHONY: format
format: install ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix backend bench && $(BIN)/ruff format backend bench

.PHONY: migration
migration: install ## Autogenerate a migration: make migration m="what changed"
	cd backend && $(BIN)/flask --app main db migrate -m "$(m)"

.PHONY: clean
clean: ## Remove the virtual environment and the embedded database
	rm -rf $(VENV) backend/instance

.PHONY: drills
drills: install ## Reliability drills on a private stack (kill -9, Redis and PostgreSQL restarts)
	$(BIN)/python bench/drills.py
