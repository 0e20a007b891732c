# ShopSage: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
DATA   ?= $(if $(SHOPSAGE_DATA_DIR),$(SHOPSAGE_DATA_DIR),../shared/data)
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test lint bench clean setup browser

setup: $(STAMP) browser

# The browser tests (tests/web) drive Debian's chromium, never a downloaded one: install it when missing
# (CI runs as root); without apt (or root) the browser tests are skipped and say why.
browser:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && \
	  { apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && \
	    apt-get install -y -qq chromium >/dev/null 2>&1; }; }; } || \
	  echo "chromium could not be installed (apt-get install -y chromium): the browser tests will be skipped"

# Reinstall whenever pyproject.toml or constraints.txt changed since the last install.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first: its CPU wheel lies on disk; anything else would pull a CUDA build.
	$(PIP) install --quiet torch==2.13.0 2>&1 | sed '/is ignored: it is neither/d'
	$(PY) -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	$(PIP) install --quiet -c constraints.txt -e ".[test]" 2>&1 | sed '/is ignored: it is neither/d'
	$(PY) -c "import shopsage, pytest, hypothesis"
	touch $(STAMP)

test: $(STAMP) browser
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -q

# var/ is the demo's home: its store var/shop.db, models var/models, caches var/cache; `shopsage stats`,
# `shopsage models list` and `shopsage serve` read the same home by default.
demo: $(STAMP)
	$(VENV)/bin/shopsage demo --data $(DATA) --home var

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) var build *.egg-info src/*.egg-info
