# Two entry points for a fresh machine: `make demo` (the whole job on the embedded demo data)
# and `make test`. Both create .venv if it is missing and install the project into it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/evalkit ingest
	$(BIN)/evalkit panel
	$(BIN)/evalkit estimate
	$(BIN)/evalkit report
	@echo "Report: $(CURDIR)/reports/demo/report.html (and report.md)"

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf data/processed/* reports/demo
