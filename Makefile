# Two commands on a fresh Debian machine (see README):
#   make demo   set up the run-time path only and run the main job on the bundled example
#   make test   set everything up and run the whole test suite (what CI runs)
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup setup-runtime demo test test-fast dist clean

# Everything: training, evaluation, Dask, JACK, the test tools.
setup:
	@bash scripts/setup.sh --full

# The run-time path alone: the package without extras, PortAudio, libsndfile.
setup-runtime:
	@bash scripts/setup.sh --runtime

demo: setup-runtime
	$(VENV)/bin/fewshot-sep demo

# All tests, the slow end-to-end ones included.
test: setup
	$(PY) -m pytest -m "slow or not slow" tests

# The fast default suite only.
test-fast: setup
	$(PY) -m pytest tests

# Standalone one-folder app (PyInstaller, no torch) in dist/fewshot-sep.
dist: setup
	bash scripts/build_app.sh

clean:
	rm -rf $(VENV) build dist *.egg-info
