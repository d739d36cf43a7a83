# Entry points for developers (Windows users: see README, "Without make"):
#   make demo          the whole job on the embedded demo data
#   make test          ruff, then the test suite
#   make crossversion  the demo under every installed Python 3.11-3.13, compared byte for byte
#   make lock          regenerate requirements.lock after changing dependencies in pyproject.toml
# demo and test create .venv when it is missing and install into it from requirements.lock only
# (exact versions, hashes checked), then evalkit itself without its dependencies.

# The interpreter for .venv: PYTHON=... when given, else the first of these that runs and is
# 3.11-3.13 (pyenv's installed versions count too, when their shims are not active). Looked for only
# when .venv has to be created.
PYENV_DIR := $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions
PYTHON_CANDIDATES := python3 python3.13 python3.12 python3.11 python \
  $(foreach v,13 12 11,$(lastword $(sort $(wildcard $(PYENV_DIR)/3.$(v).*/bin/python3.$(v)))))
SUPPORTED := import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) else 1)
ifeq ($(origin PYTHON), undefined)
PYTHON = $(eval PYTHON := $(firstword $(foreach p,$(PYTHON_CANDIDATES),$(shell $(p) -c '$(SUPPORTED)' >/dev/null 2>&1 && echo $(p)))))$(PYTHON)
endif

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet

# `make test` checks formatting too (ruff format --check); `make FORMAT_CHECK=0 test` skips it.
FORMAT_CHECK ?= 1

.PHONY: demo test test-slow lint lock crossversion python venv-info bench clean clean-venv

python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "No Python 3.11, 3.12 or 3.13 found (tried: $(strip $(PYTHON_CANDIDATES)))."; \
	  echo "Install one (python.org, your package manager, or 'pyenv install 3.12'), then run"; \
	  echo "'make demo', or name it: 'make PYTHON=/path/to/python3.12 demo'."; exit 1; fi
	@$(PYTHON) -c '$(SUPPORTED)' || { echo "$(PYTHON) is not Python 3.11-3.13: $$($(PYTHON) -V 2>&1)"; exit 1; }

$(BIN)/python:
	@$(MAKE) --no-print-directory python
	@echo "Creating $(VENV) with $(PYTHON) ($$($(PYTHON) -c 'import sys; print(sys.executable, sys.version.split()[0])'))"
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python $(LOCK) pyproject.toml
	$(PIP) install --require-hashes -r $(LOCK)
	$(PIP) install --no-deps --no-build-isolation -e .
	@$(BIN)/python -m pip check >/dev/null || { $(BIN)/python -m pip check; \
	  echo "$(LOCK) lacks a dependency of pyproject.toml: run 'make lock' and commit $(LOCK)"; exit 1; }
	@touch $(STAMP)

venv-info: $(STAMP)
	@echo "Using $(VENV): Python $$($(BIN)/python -c 'import sys; print(sys.version.split()[0])') (make clean-venv to rebuild it with another)"

demo: $(STAMP) venv-info
	$(BIN)/evalkit ingest
	$(BIN)/evalkit panel
	$(BIN)/evalkit estimate
	$(BIN)/evalkit report
	@echo "Report: $(CURDIR)/reports/demo/report.html (and report.md)"

lint: $(STAMP)
	$(BIN)/ruff check .
ifneq ($(FORMAT_CHECK),0)
	$(BIN)/ruff format --check .
endif

# pytest-xdist: one worker per core (`make TEST_WORKERS=0 test` runs in one process); how files are
# shared out between workers is set in pyproject.toml ([tool.pytest.ini_options] addopts).
TEST_WORKERS ?= auto

test: $(STAMP) venv-info lint
	$(BIN)/python -m pytest -m "not slow" -n $(TEST_WORKERS)

# The long checks (coverage simulation, SIGKILL crash loop, the whole England v3 plan with power, multiverse and verify):
# run by .ci/run after `make test`, kept out of it so `make test` stays a few minutes.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

# Resolves for every supported Python and platform at once (markers in the file), with hashes.
# Needs the package index; commit the result.
lock: $(BIN)/python
	@test -x $(BIN)/uv || $(PIP) install --require-hashes -r $(LOCK)
	$(BIN)/uv pip compile pyproject.toml --extra test --extra dev --universal --python-version 3.11 --fork-strategy fewest \
	  --generate-hashes --custom-compile-command "make lock" --quiet --output-file $(LOCK)
	@awk -F'==' '/^[A-Za-z]/ { if (seen[$$1]++) { print "$(LOCK): " $$1 " has two versions (a fork by Python version); delete $(LOCK) and run make lock again"; bad = 1 } } END { exit bad }' $(LOCK)
	@for plat in x86_64-manylinux_2_28 aarch64-apple-darwin x86_64-apple-darwin x86_64-pc-windows-msvc; do \
	  for v in 3.11 3.12 3.13; do \
	    $(BIN)/uv pip compile $(LOCK) --python-platform $$plat --python-version $$v --only-binary :all: \
	      --quiet --output-file /dev/null || { echo "$(LOCK): no wheels for $$plat, Python $$v (see above)"; exit 1; }; \
	  done; done
	@echo "$(LOCK) regenerated (one version per package; wheels for Linux, macOS and Windows x Python 3.11-3.13)."
	@echo "Reinstall: make clean-venv test"

crossversion: $(STAMP)
	$(BIN)/python tools/crossversion.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf data/processed/* reports/demo

clean-venv:
	rm -rf $(VENV)
