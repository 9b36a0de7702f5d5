# The two commands of the quick start: `make demo` and `make test`.
# Each one builds its own virtual environment on first use (or when pyproject.toml changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: test demo lint format messages bench mutation clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/python example_project/manage.py migrate --noinput -v 0
	$(BIN)/python example_project/manage.py face_idcard_demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy face_idcard

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Rebuild the catalogues after editing a .po file (the .mo files are committed).
messages: $(STAMP)
	cd face_idcard && ../$(BIN)/django-admin compilemessages --ignore=.venv

bench: $(STAMP)
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info

# Mutation testing of the modules that decide money and privacy (tools/mutation.py); long,
# so not part of `make test`. MUTATION_ARGS="face_idcard/states.py -j 2" narrows or speeds it.
MUTATION_ARGS ?=
mutation: $(STAMP)
	$(BIN)/python -m tools.mutation $(MUTATION_ARGS)
