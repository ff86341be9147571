# Two commands on a fresh machine: `make demo` (the main job) and `make test` (the tests).
# Both create .venv and install everything the project needs on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PKGS   := r1_core r1_description nav_r1 r1_sim stereo_adapter vla_r1
ARGS   ?=

.PHONY: install demo test test-fast lint bench clean

$(STAMP): requirements.txt requirements-dev.txt $(foreach p,$(PKGS),src/$(p)/setup.py)
	bash scripts/install_system_deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation $(foreach p,$(PKGS),-e src/$(p))
	touch $@

install: $(STAMP)

## The main job: a headless simulated navigation run of the whole node graph that writes a report
## (5 seeded episodes of the quadruped, ~4 minutes on 2 cores; ARGS="--episodes 10 --robot uav" etc.).
demo: $(STAMP)
	$(BIN)/nav-r1 sim --episodes 5 --force --out runs/demo $(ARGS)

## All three tiers of tests (core, ROS nodes over a private domain, end to end), then lint.
test: $(STAMP)
	$(BIN)/python -m pytest tests $(ARGS)
	$(MAKE) --no-print-directory lint

test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -m "not e2e" $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
