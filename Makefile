# Two commands on a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
SCENARIO ?= scenarios/flood_wuhan.yaml

.PHONY: setup demo inspect test lint format bench learning-bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,ray]"
	touch $(STAMP)

# Train briefly on the default scenario, evaluate against the baselines, print the report.
DEMO_RUN      ?= runs/demo
DEMO_REPORT   ?= reports/demo
DEMO_TRAIN_S  ?= 240

demo: setup
	$(PY) train.py $(SCENARIO) --out $(DEMO_RUN) --time-limit-s $(DEMO_TRAIN_S) \
		--timesteps 100000000 --eval-every 500000 --eval-seeds 2 --quiet
	$(PY) evaluate.py $(SCENARIO) --policy greedy --policy random --policy contact_aware \
		--policy $(DEMO_RUN)/best.zip --seeds 4 --out $(DEMO_REPORT)
	@echo "report: $(abspath $(DEMO_REPORT))/report.html"

inspect: setup
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
