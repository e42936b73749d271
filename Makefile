# Entry points for a fresh machine that has only Python 3.11.
#   make demo   create .venv from requirements.lock, then run the monitor once on SQLite with the stub endpoints
#   make test   create .venv from requirements.lock, then run the whole test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test up bench lock clean

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: venv
	$(BIN)/integration-monitor demo

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

up: venv
	$(BIN)/integration-monitor up

bench: venv
	$(BIN)/python benchmarks/run_all.py

# Regenerate the lock file after changing pyproject.toml (needs network access to PyPI).
lock:
	$(PYTHON) -m pip install --quiet --target .lock-tool uv
	PYTHONPATH=.lock-tool .lock-tool/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .lock-tool
