# Two commands on a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
SCENARIO ?= scenarios/flood_wuhan.yaml

.PHONY: setup browser demo inspect test lint format bench learning-bench docs docs-serve clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,ray]"
	touch $(STAMP)

# Train briefly on the default scenario; train.py ends with evaluate.py's report of the
# trained policy against the baselines and prints its path. A new demo replaces the old one.
DEMO_RUN      ?= runs/demo
DEMO_TRAIN_S  ?= 240
DEMO_SEEDS    ?= 4

demo: setup
	rm -rf $(DEMO_RUN)
	$(PY) train.py $(SCENARIO) --out $(DEMO_RUN) --time-limit-s $(DEMO_TRAIN_S) \
		--timesteps 100000000 --eval-every 500000 --eval-seeds 2 \
		--report-seeds $(DEMO_SEEDS) --quiet

inspect: setup
	$(PY) -m sagsim.envs $(SCENARIO)

# Headless Chromium and its driver for tests/agents/test_report_browser.py, from Debian's
# chromium and chromium-driver (about 20 s). Needs apt-get and root or passwordless sudo;
# where it cannot install them, one line says so and that test is skipped. Not for demo.
# The paths the test looks at (SAGSIM_CHROMIUM and SAGSIM_CHROMEDRIVER point it elsewhere).
CHROMIUM       = /usr/bin/chromium
CHROMEDRIVER   = /usr/bin/chromedriver
BROWSER_LOG   ?= $(or $(TMPDIR),/tmp)/sagsim-browser-install.log
BROWSER_SKIP   = the report browser test will be skipped

browser:
	@if [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "browser: no Chromium and no apt-get to install it; $(BROWSER_SKIP)"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else echo "browser: no Chromium, and installing it needs root; $(BROWSER_SKIP)"; exit 0; fi; \
	echo "browser: installing chromium and chromium-driver with apt-get (log: $(BROWSER_LOG))"; \
	if $$SUDO apt-get update -qq >$(BROWSER_LOG) 2>&1 \
		&& $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium chromium-driver >>$(BROWSER_LOG) 2>&1 \
		&& [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then :; \
	else echo "browser: apt-get could not install Chromium (see $(BROWSER_LOG)); $(BROWSER_SKIP)"; fi

test: setup browser
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(MKDOCS) build --strict --site-dir $(SITE_DIR)
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

# The documentation site (mkdocs.yml, docs/) in $(SITE_DIR): open $(SITE_DIR)/index.html.
# --strict: a broken link or anchor, or a page left out of the nav, fails the build. (No
# --quiet: in MkDocs 1.6 it hides the warnings that --strict counts, and the build passes.)
SITE_DIR ?= build/site
MKDOCS    = NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs

docs: setup
	$(MKDOCS) build --strict --site-dir $(SITE_DIR)

docs-serve: setup
	$(MKDOCS) serve

learning-bench: setup
	$(PY) benchmarks/learning_bench.py --scenario flood_wuhan --minutes 30
	$(PY) benchmarks/learning_bench.py --scenario minimal --minutes 10 --n-envs 4

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
