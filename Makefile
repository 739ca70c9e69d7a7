# The two commands a newcomer needs: `make up` (run the whole system) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install up test test-random lint bench clean

$(BIN)/yibao: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	@touch $(BIN)/yibao

install: $(BIN)/yibao

## Create + migrate the database, load reference data, print a key and an admin token,
## then run the API and both workers (Ctrl-C stops them).
up: install
	$(BIN)/yibao up

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## The whole test suite against the local PostgreSQL and Redis (its own database and Redis db).
test: lint
	$(BIN)/pytest -q -p no:randomly

## The same suite once more in a random order (pytest-randomly; the seed is printed to replay it
## with `-p randomly -p "randomly" --randomly-seed=N`): every test must pass alone and in any order.
test-random: install
	$(BIN)/pytest -q -p randomly

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
