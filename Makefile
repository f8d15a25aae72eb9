# Two commands do everything: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := app:create_app

.PHONY: run test install migrate demo worker bench clean browser-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/flask db upgrade
	$(BIN)/flask kabinet init

demo: migrate
	$(BIN)/flask kabinet demo

run: demo
	@echo ""
	@echo "Kabinet: http://127.0.0.1:$(PORT)/   (API docs: http://127.0.0.1:$(PORT)/swagger/v1)"
	@echo "Demo staff logins (DEMO ONLY), password Demo-pass-2026! for each:"
	@echo "  admin, operator, dispatcher, technician, billing, analyst, editor"
	@echo "admin and analyst also enter a code: $(BIN)/flask kabinet demo-totp (DEMO ONLY, see README)"
	@echo "Demo customers (client API, DEMO ONLY): +79161234567 and +79031112233, password Svet-i-Voda-2026"
	@echo ""
	START_TICKER=1 $(BIN)/flask run --host 127.0.0.1 --port $(PORT) --no-reload

worker: migrate
	$(BIN)/python worker.py

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Debian's chromium for tests/test_browser.py (skipped with its reason when it is missing).
browser-deps:
	@if [ -x /usr/bin/chromium ]; then echo "chromium present: $$(/usr/bin/chromium --version)"; \
	else apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; fi

bench: install
	$(BIN)/python bench/engine_bench.py

clean:
	rm -rf $(VENV) instance
