# The two commands a fresh machine needs: `make demo` and `make test`. Each creates the virtual
# environment (.venv) from pyproject.toml on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint cassettes cassettes-live clean browser

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: $(BIN)/.installed  ## run the example articles through the pipeline (recorded responses)
	$(BIN)/summarizer demo

test: $(BIN)/.installed browser  ## lint, then every test, offline from cassettes
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

browser:  ## Debian's chromium + chromedriver for the HTML report tests, installed only when missing
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }

cassettes: $(BIN)/.installed  ## re-record all cassettes against the scripted server
	$(BIN)/python tests/record.py

cassettes-live: $(BIN)/.installed  ## re-record against the provider in SUMMARIZER_MODEL/OPENAI_API_KEY
	$(BIN)/python tests/record.py --live

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache dist build
