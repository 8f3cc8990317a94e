# dydx-airgap: `make demo` rehearses the two-machine flow; `make test` runs every check.
# Both set up everything they need (system packages via .ci/sysdeps.sh, then .venv).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: all venv sysdeps lint typecheck contracts test demo bench crosscheck crosscheck-freeze fuzz lock clean

all: test

sysdeps:
	@bash .ci/sysdeps.sh

# setuptools cautions every editable install whose package-dir maps folders (ours: offline/ online/ shared/
# as dydx_airgap.*) that they could shadow a package of the same name; the mapping is the layout, so that
# one caution is filtered by its text and every other warning still shows.
EDITABLE_QUIET := PYTHONWARNINGS="ignore:Editable installation"

$(STAMP): pyproject.toml offline/data/lock.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(EDITABLE_QUIET) $(BIN)/pip install -q -e '.[test,rehearsal,camera]' -c offline/data/lock.txt
	@touch $@

venv: sysdeps $(STAMP)

# mypy and import-linter see the three folders under their installed names through a symlink tree
# (neither can follow setuptools' editable-install finder).
.typecheck/dydx_airgap:
	@mkdir -p .typecheck/dydx_airgap
	@for d in offline online shared; do ln -sfn ../../$$d .typecheck/dydx_airgap/$$d; done

typecheck: $(STAMP) .typecheck/dydx_airgap
	MYPYPATH=.typecheck $(BIN)/mypy --namespace-packages -p dydx_airgap

contracts: $(STAMP) .typecheck/dydx_airgap
	PYTHONPATH=.typecheck $(BIN)/lint-imports

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck contracts

test: venv
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest -q -p no:cacheprovider

demo: venv
	bash docs/demo.sh

bench: venv
	$(BIN)/python bench/run.py

# cairo-lang pins old dependencies, so it lives in its own venv; the frozen cases run in `make test`.
CROSSCHECK_VENV ?= .venv-crosscheck
$(CROSSCHECK_VENV)/.installed: tests/crosscheck/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(CROSSCHECK_VENV)
	$(CROSSCHECK_VENV)/bin/pip install -q -r tests/crosscheck/requirements.txt
	$(EDITABLE_QUIET) $(CROSSCHECK_VENV)/bin/pip install -q --no-deps -e .
	@touch $@

crosscheck: sysdeps $(CROSSCHECK_VENV)/.installed
	$(CROSSCHECK_VENV)/bin/python tests/crosscheck/cairo_crosscheck.py --timing

crosscheck-freeze: sysdeps $(CROSSCHECK_VENV)/.installed
	$(CROSSCHECK_VENV)/bin/python tests/crosscheck/cairo_crosscheck.py --seed 1d7094031543e0b72d667860c2e8476b \
		--freeze tests/data/stark_cases.json

# The long runs: >= 100,000 atheris inputs per decoder, 50,000 payload bit flips, 10,000 vault flips,
# 1,000 SIGKILLs mid-write, the secret canary over 200 key sets, 10,000 evidence-bundle flips.
FUZZ_RUNS ?= 100000
fuzz: venv
	$(BIN)/pip install -q atheris
	@set -e; for t in $$($(BIN)/python -c 'from tests.fuzz.targets import TARGETS; print(" ".join(sorted(TARGETS)))'); do \
		$(BIN)/python -m tests.fuzz.run_atheris $$t $(FUZZ_RUNS) 2>&1 | grep -E '^fuzz |uncaught|Error' ; \
	done
	DYDX_AIRGAP_FLIPS=50000 DYDX_AIRGAP_CRASH_RUNS=1000 DYDX_AIRGAP_SIG_SAMPLES=10000 DYDX_AIRGAP_CANARY_SETS=200 \
		$(BIN)/pytest -q -p no:cacheprovider tests/test_tamper_and_crash.py tests/test_secret_canary.py
	EVIDENCE_FLIPS=10000 $(BIN)/pytest -q -p no:cacheprovider tests/test_audit.py -k bit_flip

# Refresh the pinned runtime versions (after changing dependencies) from the current .venv.
lock: $(STAMP)
	$(BIN)/python .ci/make_lock.py > offline/data/lock.txt

clean:
	rm -rf $(VENV) .typecheck .mypy_cache .ruff_cache .pytest_cache demo-out
