# kavach-fastapi: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Where `make demo` serves: `make demo PORT=8011 HOST=0.0.0.0`. Plain assignments, so that only
# the command line changes them, not a HOST the shell happens to export.
HOST = 127.0.0.1
PORT = 8000

.PHONY: install demo job test lint typecheck pytest docs docs-build dist format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	@echo "kavach-fastapi demo: open http://$(HOST):$(PORT)"
	$(BIN)/python -m uvicorn example_app.main:app --host $(HOST) --port $(PORT)

# The demo's background job, beside a running `make demo`: `make job USER_ID=<the id of /api/me>`.
job: $(STAMP)
	$(BIN)/python -m example_app.job $(USER_ID) --demo-url http://$(HOST):$(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest

# The documentation site, built offline into site/ (git-ignored); any warning fails the build.
# NO_MKDOCS_2_WARNING quiets Material's banner about its own future, which is not a problem here.
docs-build: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Serve the documentation with live reload on http://127.0.0.1:8001 (the demo has port 8000).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict --dev-addr 127.0.0.1:8001

# The strict site build is part of the suite (tests/docs/test_site.py builds it once and checks
# the pages), so `make test` does not build it a second time.
test: lint typecheck pytest

# The sdist and the wheel, built in an isolated environment as a package index would get them.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist site
