# The two commands of the README: `make demo` and `make test`.
# Both build .venv on first use; a stamp file makes the second run skip installing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test lint test-horovod install install-test install-horovod bench reliability clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel

$(VENV)/.installed: setup.cfg pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -e '.[test,mpi]'
	touch $@

# Horovod's lane: its own environment on the one TensorFlow that Horovod 0.28.1 builds
# against (ci/horovod-constraints.txt); the compiled wheel is cached across fresh clones.
HVD_VENV := .venv-horovod
HVD_PY   := $(HVD_VENV)/bin/python
HVD_PIP  := $(HVD_PY) -m pip --disable-pip-version-check -q

$(HVD_VENV)/.installed: setup.cfg pyproject.toml ci/horovod-constraints.txt ci/build-horovod
	test -x $(HVD_PY) || $(PYTHON) -m venv $(HVD_VENV)
	$(HVD_PIP) install --upgrade pip setuptools wheel
	$(HVD_PIP) install -c ci/horovod-constraints.txt -e '.[test]'
	ci/build-horovod $(HVD_PY)
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
install-horovod: $(HVD_VENV)/.installed

DEMO_CONFIG ?= keras_geo/configs/filler_ga_tpe.yaml
DEMO_OUT    ?= runs/demo

demo: $(VENV)/.installed
	$(VENV)/bin/keras-geo-hpo search $(DEMO_CONFIG) --store $(DEMO_OUT)/store.db
	$(VENV)/bin/keras-geo-hpo report $(DEMO_OUT)/store.db --out $(DEMO_OUT)/report
	$(VENV)/bin/keras-geo-hpo export $(DEMO_OUT)/store.db --out $(DEMO_OUT)/best.keras
	@echo "Results: $(DEMO_OUT)/report/report.html (plots, top trials), $(DEMO_OUT)/best.keras (best model)"

test: $(VENV)/.installed-test lint
	$(PY) -m pytest

# ruff: lint (pyflakes, pycodestyle, import order, bugbear, pyupgrade) and format, configured in pyproject.toml.
lint: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test-horovod: $(HVD_VENV)/.installed
	$(HVD_PY) -m pytest tests/hpo/test_distributed.py -m horovod

$(VENV)/.installed-bench: $(VENV)/.installed
	$(PIP) install -e '.[bench]'
	touch $@

# The quick versions of the benchmarks (about 37 minutes on 2 cores); BENCHMARKS.md gives
# the full commands and their results. Quick results go to benchmarks/results/*_quick.*.
bench: $(VENV)/.installed-bench
	$(PY) benchmarks/bench_strategies.py --quick
	$(PY) benchmarks/bench_multiobjective.py --quick
	$(PY) benchmarks/bench_duplicates.py --quick
	$(PY) benchmarks/bench_overhead.py --quick
	$(PY) benchmarks/bench_parallel.py --quick
	$(PY) benchmarks/bench_memory.py --quick
	$(PY) benchmarks/bench_cnn_search.py --quick
	$(PY) benchmarks/bench_pruning.py --quick
	$(PY) benchmarks/bench_multiobjective_cnn.py --quick
	$(PY) benchmarks/bench_dashboard.py --quick
	$(PY) benchmarks/bench_filler_slices.py --quick
	$(PY) benchmarks/bench_gradcam.py
	$(PY) benchmarks/bench_restoration.py --quick
	$(PY) benchmarks/bench_skipresnet.py --quick
	$(PY) benchmarks/bench_fish_count.py --quick
	$(PY) benchmarks/bench_bathymetry_sr.py --quick
	$(PY) benchmarks/bench_devices.py --quick
	$(PY) benchmarks/bench_rsa.py --quick
	$(PY) benchmarks/bench_detection.py --quick
	$(PY) benchmarks/bench_annotate.py --quick
	$(PY) benchmarks/bench_table2.py --quick

# The fault-injection campaign behind RELIABILITY.md (about 2 minutes): kills, worker deaths, Ctrl-C.
reliability: $(VENV)/.installed-test
	$(PY) tests/faults/faults.py --repeats 3

clean:
	rm -rf $(VENV) $(HVD_VENV) build *.egg-info .pytest_cache
