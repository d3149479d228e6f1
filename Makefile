# kavach-fastapi: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Where `make demo` serves: `make demo PORT=8011 HOST=0.0.0.0`. Plain assignments, so that only
# the command line changes them, not a HOST the shell happens to export.
HOST = 127.0.0.1
PORT = 8000

.PHONY: install demo job test test-oldest lint typecheck pytest docs docs-build dist format clean

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

# The oldest FastAPI that pyproject.toml admits (its `fastapi>=` bound, newest patch release), in
# a venv of its own: the unit tests and the tests of what an app sees (sign-in, sessions, the
# router, OpenAPI, the attack suite). Starlette before 0.47 has its TestClient need httpx, and
# warns of an anyio alias it uses. `.ci/run` runs it after `make test`.
OLDEST_VENV ?= .venv-oldest
OLDEST_FASTAPI := $(shell sed -n 's/^ *"fastapi>=\([0-9.]*\)",.*/\1/p' pyproject.toml)
OLDEST_TESTS = tests/unit tests/security tests/integration/test_sign_in_flow.py \
	tests/integration/test_sessions.py tests/integration/test_openapi_security.py \
	tests/integration/test_router_matching.py tests/integration/test_hooks.py \
	tests/integration/test_sites_and_api.py tests/integration/test_current_user_hot_path.py \
	tests/integration/test_one_http_edge.py

test-oldest:
	test -x $(OLDEST_VENV)/bin/python || $(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST_VENV)/bin/python -m pip install --quiet -e ".[dev]" "fastapi~=$(OLDEST_FASTAPI).0" httpx
	$(OLDEST_VENV)/bin/python -c "import fastapi; print('FastAPI', fastapi.__version__)"
	$(OLDEST_VENV)/bin/python -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning $(OLDEST_TESTS)

# The sdist and the wheel, built in an isolated environment as a package index would get them.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(OLDEST_VENV) .mypy_cache .ruff_cache .pytest_cache build dist site
