# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
VENV   ?= .venv
# The first interpreter that really runs and is 3.11+ (pyenv shims may exist for versions that don't).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: demo test lint install run clean bench

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "需要 Python 3.11 或更新版本（找不到可用的 python3）"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m bot demo

# One pytest worker per core (pytest-xdist); PYTEST_ARGS="-n 0" runs in one process.
test: $(STAMP)
	$(PY) -m pytest -q -n auto $(PYTEST_ARGS)

# The quality gates .ci/run applies before the tests (settings in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check bot handlers store
	$(VENV)/bin/ruff format --check bot handlers store
	$(VENV)/bin/mypy bot handlers store

run: $(STAMP)
	$(PY) -m bot run --config config.toml

clean:
	rm -rf $(VENV) demo-data .pytest_cache
