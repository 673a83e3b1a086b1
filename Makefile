# Quick start:  make demo   (run the product with demo data)   ·   make test   (run the tests)
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000

.PHONY: install demo test lint check-migrations clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "backoffice needs Python 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

## Seed demo data into instance/backoffice.sqlite3 and serve the app + a worker on an embedded Redis.
demo: $(STAMP)
	$(BIN)/backoffice demo --port $(PORT)

## The test suite: SQLite and an embedded Redis unless BACKOFFICE_TEST_DATABASE_URL /
## BACKOFFICE_TEST_REDIS_URL point at PostgreSQL / a Redis server. SHIFT_DAYS=400 runs it with the test
## process's clock moved 400 days ahead (tests/conftest.py says how). JOBS=2 runs it in two processes
## (pytest-xdist; each with its own database and Redis database).
test: $(STAMP)
	@BACKOFFICE_TEST_SHIFT_DAYS=$(SHIFT_DAYS) $(BIN)/pytest $(if $(JOBS),-n $(JOBS)) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests -- that is a failure here" >&2; exit 1; fi; \
	exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
