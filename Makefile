# The two commands of the quick start: `make demo` and `make test`.
# Each one builds its own virtual environment on first use (or when pyproject.toml changes).
# A CI configuration picks its own interpreter and environment with PYTHON= and VENV=, the
# package's extras with EXTRAS=, what to remove afterwards with PIP_REMOVE= (psycopg, to run
# on psycopg2) and which tests with PYTEST_ARGS=; pip's own PIP_CONSTRAINT= pins a Django (and,
# for the oldest stack, every dependency at its floor: several files, separated by spaces).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
EXTRAS ?= dev
PIP_REMOVE ?=

.PHONY: test demo demo-check lint docs docs-messages format messages bench mutation clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]'
	$(if $(PIP_REMOVE),$(BIN)/python -m pip uninstall --quiet --yes $(PIP_REMOVE))
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The example site with a real simulator, Celery worker, beat and web server, fed through its
# HTTP API (example_project/run_demo.py); demo-check exits after the table of outcomes.
demo: $(STAMP)
	$(BIN)/python example_project/run_demo.py

demo-check: $(STAMP)
	$(BIN)/python example_project/run_demo.py --check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy face_idcard

# The documentation site (docs/conf.py says why Sphinx), offline, in English and in Chinese
# (docs/_build/html/zh_CN, from the catalogues in docs/locale): -n makes a reference to
# anything of the package's that does not exist an error, -W makes every warning one.
docs: $(STAMP)
	$(BIN)/python -m sphinx -n -W --keep-going -q -c docs . docs/_build/html
	$(BIN)/python -m sphinx -n -W --keep-going -q -c docs -D language=zh_CN . docs/_build/html/zh_CN

# After editing the English pages: merge their messages into the Chinese catalogues.
docs-messages: $(STAMP)
	$(BIN)/python docs/i18n.py

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Rebuild the catalogues after editing a .po file (the .mo files are committed).
messages: $(STAMP)
	cd face_idcard && ../$(BIN)/django-admin compilemessages --ignore=.venv

# Every benchmark script (the helper modules beside them have no __main__ and are skipped).
bench: $(STAMP)
	for b in $$(grep -l '__main__' bench/*.py); do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info

# Mutation testing of the modules that decide money and privacy (tools/mutation.py); long,
# so not part of `make test`. MUTATION_ARGS="face_idcard/states.py -j 2" narrows or speeds it.
MUTATION_ARGS ?=
mutation: $(STAMP)
	$(BIN)/python -m tools.mutation $(MUTATION_ARGS)
