# Developer entry points. `make run` starts `heron demo` (a simulated node, UI/API on :9500); `make test` is what CI runs.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Only directories that exist: git does not keep empty ones, and ruff fails on a missing path.
LINT_PATHS := $(wildcard src tests bench docs setup.py)

# Debian packages the tests need: Chromium for the browser tests (Playwright drives
# /usr/bin/chromium; no browser is downloaded) and a font for its text; Prometheus (with
# promtool) and node-exporter, the peers the metric-collection tests compare against. `deps` installs only
# the missing ones, so it costs nothing when all are present.
DEB_PACKAGES := chromium fonts-dejavu-core prometheus prometheus-node-exporter

# The web UI (ui/, TypeScript + Vite) builds into the package, where the server and the wheel
# find it. It is rebuilt only when a source changed; node_modules only when the lock file did.
UI_BUILT := src/heron/ui/index.html
UI_MODULES := ui/node_modules/.package-lock.json
UI_SOURCES := $(shell find ui/src ui/public -type f 2>/dev/null) ui/index.html ui/package.json \
	ui/vite.config.ts ui/tsconfig.json

.PHONY: venv deps ui run test lint clean distclean

venv: $(STAMP)

# Rebuilt whenever pyproject.toml changes (new dependencies), otherwise a no-op.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

deps:
	@missing=""; \
	for pkg in $(DEB_PACKAGES); do \
		dpkg -s "$$pkg" >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

$(UI_MODULES): ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund
	touch $(UI_MODULES)

$(UI_BUILT): $(UI_MODULES) $(UI_SOURCES)
	cd ui && npm run build

ui: $(UI_BUILT)

run: venv ui
	$(BIN)/heron demo --listen 127.0.0.1:9500

test: venv deps ui
	$(BIN)/ruff check $(LINT_PATHS)
	cd ui && npm test
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check $(LINT_PATHS)

# Build and test leftovers only: never ./data (it may hold real data) nor the venv.
clean:
	rm -rf build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis src/heron/ui
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) ui/node_modules
