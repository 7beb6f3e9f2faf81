# Two commands on a fresh machine (Python 3.11 and make): `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
WORKERS ?= 1
export PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
export FLASK_APP := wsgi

CATALOGS := $(wildcard webapp/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

.PHONY: run test install install-test translations extract-messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@ >/dev/null

install: $(VENV)/.installed translations
install-test: $(VENV)/.installed-test translations
translations: $(COMPILED)

# First run writes instance secrets and the demo team; later runs keep the data.
run: install
	$(BIN)/flask init-instance
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo --url $(PUBLIC_BASE_URL)
	exec $(BIN)/gunicorn -c webapp/gunicorn_conf.py --workers $(WORKERS) --bind $(HOST):$(PORT) wsgi:app

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# For developers: refresh the message catalog after adding UI text.
extract-messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_pgettext:1c,2 -o webapp/translations/messages.pot .
	$(BIN)/pybabel update -i webapp/translations/messages.pot -d webapp/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) $(COMPILED)
