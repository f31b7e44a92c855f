# The two commands of the README: `make demo` and `make test`.
# Both build .venv on first use; a stamp file makes the second run skip installing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test install install-test bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel

$(VENV)/.installed: setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

DEMO_CONFIG ?= data/configs/filler_ga_tpe.yaml
DEMO_OUT    ?= runs/demo

demo: $(VENV)/.installed
	$(VENV)/bin/keras-geo-hpo search $(DEMO_CONFIG) --store $(DEMO_OUT)/store.db
	$(VENV)/bin/keras-geo-hpo report $(DEMO_OUT)/store.db --out $(DEMO_OUT)/report
	$(VENV)/bin/keras-geo-hpo export $(DEMO_OUT)/store.db --out $(DEMO_OUT)/best.keras
	@echo "Results: $(DEMO_OUT)/report/report.html (plots, top trials), $(DEMO_OUT)/best.keras (best model)"

test: $(VENV)/.installed-test
	$(PY) -m pytest

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_filler_slices.py --quick
	$(PY) benchmarks/bench_table1.py --quick --seeds 1

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
