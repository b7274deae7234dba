# defender.atp: build, test and demo entry points. Everything runs from .venv (made by `make venv` from the pinned
# requirements); no activated venv needed.
#
#   make test [STEPS=session,...] [TAGS=units] [JOBS=2]   the default nox sessions (noxfile.py), JOBS nox processes side by side; a table slowest first, the total, a WARNING over the 30-minute budget; last line "N passed, M failed"
#   make sanity | units | integration   ansible-test on every supported ansible-core, 2.16-2.21 (nox -t sanity|units|integration)
#   make reliability | lint | docs | changelog | molecule | build | emulator-tests | awx   one nox session each
#   make test-all      every ansible-test session: sanity (every test), units and integration on all six ansible-core releases
#   make nox-list      list the nox sessions
#   make demo [ARGS=-v]  incident response playbook against a local emulator
#   make emulator      run the emulator in the foreground (EMULATOR_PORT, default 8443)
#   make eda           end-to-end test of the EDA rulebook: ansible-rulebook (own venv build/venv-eda, needs Java 17+) against the emulator
#   make bench         run the benchmarks (benchmarks/load.py: 8 forks for 60 s; make test runs a 12 s version)
#   make ee-context    execution environment build context (ansible-builder create) in build/ee-context, checked
#   make clean         remove build output (make distclean also removes .venv)

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
VPY := $(VENV)/bin/python
REQUIREMENTS := requirements-dev.txt requirements.txt
# The stamp's name carries a hash of the requirements files: edit them and the next target reinstalls.
REQ_HASH := $(shell cat $(REQUIREMENTS) 2>/dev/null | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(REQ_HASH)

EMULATOR_PORT ?= 8443
EMULATOR_STATE ?= .emulator
STEPS ?=
TAGS ?=
# nox processes side by side (2 cores: the integration targets mostly wait on the emulator).
JOBS ?= 2
# The budget of the default selection (no STEPS or TAGS): over it, make test prints a WARNING line (not a failure).
BUDGET_SECONDS ?= 1800
NOX := $(VENV)/bin/nox
NOX_REPORT := build/nox-report.json
comma := ,
# ansible-test and the tools print no colour codes into CI logs.
export ANSIBLE_NOCOLOR := 1

# make eda: ansible-rulebook and its dependencies live in their own venv (tests/eda/requirements.txt), not in .venv;
# under build/, which the work copy, the collection build and git all leave out (make clean removes it too).
EDA_VENV ?= build/venv-eda
EDA_REQUIREMENTS := tests/eda/requirements.txt requirements.txt
EDA_REQ_HASH := $(shell cat $(EDA_REQUIREMENTS) 2>/dev/null | sha256sum | cut -c1-16)
EDA_STAMP := $(EDA_VENV)/.installed-$(EDA_REQ_HASH)

.PHONY: help venv eda test test-all nox-list sanity units integration reliability lint docs changelog molecule build emulator-tests awx \
	demo emulator bench ee-context clean distclean

help:
	@sed -n 's/^#   //p' Makefile

venv: $(STAMP)

$(STAMP):
	@if ! $(VPY) -c '' 2>/dev/null; then \
		echo "creating $(VENV) with $(PYTHON)"; \
		rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); \
	fi
	$(VPY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

# scripts/noxsupport.py run: the selected sessions (STEPS: session names, comma-separated; TAGS: nox tags; neither: nox's
# default ones) in JOBS nox processes side by side, split by the durations of the last run (build/nox-report.json);
# then a table slowest first, the total and wall-clock time, a WARNING line when the default selection overran its
# budget, and the last line "N passed, M failed". Exits 1 when a session did not pass.
test: venv
	@mkdir -p build
	@$(VPY) scripts/noxsupport.py run --nox $(NOX) --report $(NOX_REPORT) --jobs $(JOBS) \
		$(if $(STEPS),-e $(subst $(comma), ,$(STEPS))) $(if $(TAGS),-t $(subst $(comma), ,$(TAGS))) \
		$(if $(STEPS)$(TAGS),,--budget $(BUDGET_SECONDS))

nox-list: venv
	@$(NOX) --list

# Every ansible-test session: sanity (every test, SANITY_TESTS=all), units and integration on every ansible-core release.
test-all: venv
	@SANITY_TESTS=all $(MAKE) --no-print-directory test TAGS=sanity,units,integration

sanity units integration: venv
	@$(MAKE) --no-print-directory test TAGS=$@

reliability changelog molecule awx: venv
	@$(MAKE) --no-print-directory test STEPS=$@

lint: venv
	@$(MAKE) --no-print-directory test STEPS=lint,ansible-lint,extra-checks

docs: venv
	@$(MAKE) --no-print-directory test STEPS=docs-check

build: venv
	@$(MAKE) --no-print-directory test STEPS=build-import-check

emulator-tests: venv
	@$(MAKE) --no-print-directory test STEPS=emulator

demo: venv
	$(VPY) scripts/demo.py $(if $(ARGS),-- $(ARGS))

emulator: venv
	@test -f tests/emulator/run.py || { echo "tests/emulator/run.py does not exist yet"; exit 1; }
	$(VPY) tests/emulator/run.py --port $(EMULATOR_PORT) --state-dir $(EMULATOR_STATE)

bench: venv
	@set -e; found=0; status=0; \
	for script in benchmarks/*.py; do \
		[ -f "$$script" ] || continue; \
		grep -qE '^def main\(' "$$script" || continue; \
		found=1; echo "==> $$script"; \
		$(VPY) "$$script" || status=$$?; \
	done; \
	if [ $$found = 0 ]; then echo "no benchmarks/*.py defines main() yet"; exit 1; fi; \
	exit $$status

$(EDA_STAMP):
	@if ! $(EDA_VENV)/bin/python -c '' 2>/dev/null; then \
		echo "creating $(EDA_VENV) with $(PYTHON)"; \
		rm -rf $(EDA_VENV) && $(PYTHON) -m venv $(EDA_VENV); \
	fi
	$(EDA_VENV)/bin/python -m pip install --disable-pip-version-check -q $(addprefix -r ,$(EDA_REQUIREMENTS))
	@rm -f $(EDA_VENV)/.installed-*
	@touch $@

# ansible-rulebook's rule engine (Drools) runs in a JVM: a Java 17+ runtime must be installed.
eda: $(EDA_STAMP)
	@java -version >/dev/null 2>&1 || { echo "make eda needs Java 17 or later: apt-get install -y openjdk-17-jre-headless"; exit 1; }
	$(EDA_VENV)/bin/python -m pytest tests/eda -q -s -p no:cacheprovider

# A container engine is not needed: build the image from the context with podman/docker build.
ee-context: venv
	$(VPY) scripts/ee_context.py --check

clean:
	rm -rf build tests/output .pytest_cache .hypothesis $(EMULATOR_STATE) .ansible tests/integration/inventory \
		tests/integration/integration_config.yml changelogs/.plugin-cache.yaml
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .nox
