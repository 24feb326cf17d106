# The desk's everyday commands: `make run` (a working desk with demo data), `make test`, `make lint`,
# `make mutation` (do the domain tests notice when a rule breaks?).
VENV := .venv
BIN := $(VENV)/bin
# Re-install only when a requirements file changes: the desk's own (run) and the tools' (test, lint).
RUN_STAMP := $(VENV)/.run-requirements-installed
DEV_STAMP := $(VENV)/.dev-requirements-installed
# honcho hands PORT to the first Procfile entry (web); the worker ignores it.
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=
# make mutation MODULES="workflow permissions": only those modules of desk/domain/ (default: all of them).
MODULES ?=
# make mutation MUTATION_ARGS=--check: fail when a module the desk relies on scores under 95% (CI does).
MUTATION_ARGS ?=

.PHONY: venv dev-venv run test lint mutation

venv: $(RUN_STAMP)

dev-venv: $(DEV_STAMP)

$(VENV)/bin/python:
	python3 -m venv $(VENV)

# make run needs only what the desk itself runs on.
$(RUN_STAMP): requirements.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# The test and lint tools come on top, for make test and make lint only.
$(DEV_STAMP): requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(RUN_STAMP) $@

run: venv
	@$(BIN)/flask --app app desk upgrade-db
	@$(BIN)/flask --app app desk demo --if-empty
	@echo
	@echo "The desk is starting at http://127.0.0.1:$(PORT)  (Ctrl-C stops the web desk and the worker)"
	@echo
	@PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --port $(PORT)

# The browser test drives Debian's Chromium; nothing here ever downloads a browser.
test: dev-venv
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	  else \
	    echo "$(CHROMIUM) is missing and we are not root: the browser test will be skipped" \
	         "(install Debian's chromium package to run it)."; \
	  fi; \
	fi
	$(BIN)/pytest $(PYTEST_ARGS)

# Lint and import order (settings in pyproject.toml).
lint: dev-venv
	$(BIN)/ruff check .

# Mutation testing of the domain rules against the fast domain tests (mutation/run.py, docs/testing.md):
# prints each module's score and the mutants no test noticed.
mutation: dev-venv
	$(BIN)/python mutation/run.py $(MUTATION_ARGS) $(MODULES)
