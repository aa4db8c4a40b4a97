# The two commands of the README: `make run` and `make test`. Each sets up .venv itself.
PYTHON ?= $(shell command -v python3.13 2>/dev/null || echo python3)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test lint bench schema clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13) else "Engine needs Python 3.13 or newer (pyenv: see .python-version)")'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## start Engine on the embedded store at http://127.0.0.1:8000
	$(VENV)/bin/engine serve

test: $(STAMP)  ## lint, type-check and run the whole test suite (both stores)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(STAMP)  ## run every benchmark in bench/
	for script in bench/*_bench.py; do $(VENV)/bin/python $$script || exit 1; done

schema: $(STAMP)  ## regenerate schema/schema.graphql
	$(VENV)/bin/python -m schema.export

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
