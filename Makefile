# Two commands do all set-up on a fresh machine:
#   make demo   installs the pinned environment and runs the 19-experiment workflow on the embedded default
#   make test   installs the pinned environment and runs the tests
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# The embedded default never touches a model or data hub.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1

.PHONY: demo test test-fast lint dry-run report clean

$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --no-deps -r requirements-nodeps.txt
	# the workflow's own package (workflow/scripts/wlf), editable: the Snakefile, tests and benchmarks import it
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	snakemake --profile profiles/local --configfile config/demo.yaml
	snakemake --profile profiles/local --configfile config/demo.yaml --report results/report.html

test: $(STAMP)
	pytest

test-fast: $(STAMP)
	pytest -m "not slurm and not workflow"

lint: $(STAMP)
	snakemake --lint
	snakefmt --check Snakefile rules
	ruff check .

dry-run: $(STAMP)
	snakemake -n --profile profiles/local

clean:
	rm -rf results logs benchmarks .snakemake
