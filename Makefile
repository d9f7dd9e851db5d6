# Developer entry points. `make run` starts `heron demo` (a simulated node, UI/API on :9500); `make test` is what CI runs.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Only directories that exist: git does not keep empty ones, and ruff fails on a missing path.
LINT_PATHS := $(wildcard src tests bench)

# Debian packages the tests need (none yet; later issues add them here, e.g. a real Prometheus
# for side-by-side PromQL checks). `deps` installs only the missing ones, so it costs nothing
# when all are present.
DEB_PACKAGES :=

.PHONY: venv deps run test lint clean distclean

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

run: venv
	$(BIN)/heron demo --listen 127.0.0.1:9500

test: venv deps
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check $(LINT_PATHS)

# Build and test leftovers only: never ./data (it may hold real data) nor the venv.
clean:
	rm -rf build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
