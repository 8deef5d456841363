# Two commands on a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
SCENARIO ?= scenarios/flood_wuhan.yaml

.PHONY: setup demo test lint format bench learning-bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,ray]"
	touch $(STAMP)

demo: setup
	$(PY) -m envs $(SCENARIO)

test: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q -n 2

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: setup
	$(PY) benchmarks/orbits_bench.py
	$(PY) benchmarks/env_bench.py

learning-bench: setup
	$(PY) benchmarks/learning_bench.py --scenario flood_wuhan --minutes 30
	$(PY) benchmarks/learning_bench.py --scenario minimal --minutes 10 --n-envs 4

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
