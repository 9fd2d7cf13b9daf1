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

# The web app (frontend/): rebuilt when a source is newer than the build.
WEB := frontend
WEB_BUILD := $(WEB)/dist/index.html
WEB_DEPS := $(WEB)/node_modules/.installed
WEB_SOURCES := $(shell find $(WEB)/src $(WEB)/public -type f 2>/dev/null) $(WEB)/index.html \
	$(WEB)/package.json $(WEB)/vite.config.ts $(WEB)/tsconfig.json
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

$(WEB_DEPS): $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund
	@touch $@

$(WEB_BUILD): $(WEB_DEPS) $(WEB_SOURCES)
	cd $(WEB) && npm run build
	@touch $@

.PHONY: web
web: ## Build the web app into frontend/dist when its sources changed (needs Node 20)
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory $(WEB_BUILD); \
	else echo "npm not found: serving the API only (install Node 20 to build the web app)" >&2; fi

.PHONY: run
run: install web ## Build the web app, migrate, seed demo data and serve at http://$(HOST):$(PORT)
	cd backend && $(BIN)/flask --app main init-db && $(BIN)/flask --app main seed-demo
	cd backend && ./run.sh

.PHONY: test
test: lint ## Lint and run the whole test suite: pytest, Vitest, Playwright (PostgreSQL and Redis on 127.0.0.1)
	cd backend && $(BIN)/pytest -n $${PYTEST_WORKERS:-2} --dist loadfile
	$(MAKE) --no-print-directory test-web

.PHONY: test-web
test-web: install $(WEB_BUILD) ## Web app: type check, Vitest units, Playwright end-to-end in /usr/bin/chromium
	cd $(WEB) && npm run typecheck && npx vitest run
	cd $(WEB) && node e2e/run.mjs

.PHONY: screenshots
screenshots: install $(WEB_BUILD) ## Save screenshots of the main pages (desktop and 390 px) to docs/screenshots/
	cd $(WEB) && SCREENSHOTS=1 node e2e/run.mjs screenshots

.PHONY: bench
bench: install ## Benchmarks: transfers and card authorizations (gunicorn vs pgbench), reads at 1M entries (minutes)
	$(BIN)/python bench/transfers.py
	$(BIN)/python bench/cards.py
	$(BIN)/python bench/request_cost.py
	$(BIN)/python bench/reads.py
	$(BIN)/python bench/sanctions_lists.py

.PHONY: bench-events
bench-events: install ## Event stream: 2,000 open streams (memory per stream), commit-to-client delay and transfers with and without them
	$(BIN)/python bench/events_stream.py

.PHONY: lint
lint: install ## ruff check and format check (backend and bench), import contracts (lint-imports), mypy
	$(BIN)/ruff check backend bench && $(BIN)/ruff format --check backend bench
	cd backend && $(BIN)/lint-imports --no-cache
	cd backend && $(BIN)/mypy

.PHONY: format
format: install ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix backend bench && $(BIN)/ruff format backend bench

.PHONY: migration
migration: install ## Autogenerate a migration: make migration m="what changed"
	cd backend && $(BIN)/flask --app main db migrate -m "$(m)"

.PHONY: image
image: ## Build the Docker image and smoke-test it (says so and exits 0 without an engine or base images)
	deploy/image.sh

.PHONY: lint-migrations
lint-migrations: install ## Lint the migrations' SQL for locks that stop traffic (pglast)
	cd backend && $(BIN)/python -m migrations.lint

.PHONY: clean
clean: ## Remove the virtual environment, the embedded database and the web build
	rm -rf $(VENV) backend/instance $(WEB)/dist $(WEB)/node_modules

.PHONY: drills
drills: install ## Reliability drills on a private stack (kill -9, Redis and PostgreSQL restarts)
	$(BIN)/python bench/drills.py

.PHONY: restore-drill
restore-drill: install ## Backup and point-in-time restore under a transfer load on private clusters; prints RPO and RTO
	$(BIN)/python bench/restore_drill.py
