# Two commands for a fresh clone (README): `make run` builds .venv from the pinned lock file if needed and
# runs the whole pipeline; `make test` runs the fast test suite in the same environment.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 4

.PHONY: run test test-slow lint clean lock report-zip bench stop-worker

$(BIN)/.installed: requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 required, found {sys.version.split()[0]}"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

run: $(BIN)/.installed
	$(BIN)/snakemake --cores $(CORES)

# Snakemake's own report (captions and categories from the rules' report: directives), for reviewers used to it.
report-zip: run
	$(BIN)/snakemake --report results/snakemake-report.zip

# Side-by-side benchmarks (bench/README.md); needs a finished `make run`, R for the brms part.
bench: run
	bench/run.sh

test: $(BIN)/.installed
	$(BIN)/pytest

test-slow: $(BIN)/.installed
	$(BIN)/pytest -m slow

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint

# The job worker a run keeps for the next one (config worker_keep) exits by itself after that many idle seconds.
stop-worker:
	-$(BIN)/python -m reanalysis.worker stop

clean: stop-worker
	rm -rf results logs .snakemake

# Re-pin after changing dependencies: freeze the working .venv (setuptools is pinned too, for the editable install).
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock
	echo "setuptools==$$($(BIN)/python -c 'import setuptools; print(setuptools.__version__)')" >> requirements.lock
	sort -f -o requirements.lock requirements.lock
	$(BIN)/python tools/sync_environment.py
