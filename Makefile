# The desk's two everyday commands: `make run` (a working desk with demo data) and `make test`.
VENV := .venv
BIN := $(VENV)/bin
# Re-install only when a requirements file changes.
STAMP := $(VENV)/.requirements-installed
# honcho hands PORT to the first Procfile entry (web); the worker ignores it.
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=

.PHONY: venv run test

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -r requirements-dev.txt
	touch $@

run: venv
	$(BIN)/flask --app app desk upgrade-db
	$(BIN)/flask --app app desk demo --if-empty
	@echo
	@echo "The desk is starting at http://127.0.0.1:$(PORT)  (Ctrl-C stops the web desk and the worker)"
	@echo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --port $(PORT)

# The browser test drives Debian's Chromium; nothing here ever downloads a browser.
test: venv
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	  else \
	    echo "$(CHROMIUM) is missing and we are not root: the browser test will be skipped" \
	         "(install Debian's chromium package to run it)."; \
	  fi; \
	fi
	$(BIN)/pytest $(PYTEST_ARGS)
