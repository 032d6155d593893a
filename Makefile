# Two commands from a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck pytest install assets browser messages clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Browser assets from npm (bpmn-js, axe-core), pinned by package-lock.json and
# copied into service/static/vendor/ (not committed). Pages work without them.
VENDOR := service/static/vendor
ASSETS_STAMP := $(VENDOR)/.installed-stamp

$(ASSETS_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/bpmn-js
	cp node_modules/bpmn-js/dist/bpmn-viewer.production.min.js \
	   node_modules/bpmn-js/dist/bpmn-modeler.production.min.js $(VENDOR)/bpmn-js/
	cp -r node_modules/bpmn-js/dist/assets/. $(VENDOR)/bpmn-js/
	touch $(ASSETS_STAMP)

assets: $(ASSETS_STAMP)

install: $(STAMP) $(ASSETS_STAMP)

## make run: install, migrate the embedded SQLite database, load processes and demo data, serve on :5000
run: install
	$(BIN)/trygg init --demo
	$(BIN)/trygg serve --host 127.0.0.1 --port 5000

## make test: install, lint, type-check and run every test (TEST_DATABASE_URL=postgresql://… for PostgreSQL)
test: install browser lint typecheck pytest

lint: install
	$(BIN)/ruff check service tests benchmarks
	$(BIN)/ruff format --check service tests benchmarks

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -q -p no:cacheprovider

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

## make messages: re-extract interface strings and update the catalogs
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _ -k N_ -o service/translations/messages.pot --no-location --omit-header .
	$(BIN)/pybabel update -i service/translations/messages.pot -d service/translations --no-fuzzy-matching --ignore-obsolete

clean:
	rm -rf $(VENV) instance test-artifacts
