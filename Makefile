# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8765

.PHONY: run test install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install only when the project metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,bench,peers]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## run: start WhisperSync with the sample data (Ctrl-C to stop)
run: install
	$(BIN)/whispersync up --port $(PORT) --demo

## test: install what the tests need and run them all
# Two workers, each running whole test files (a module's shared fixture, such as one CDK
# synth or one browser, is made once): about half the time of one. TEST_WORKERS=0 runs
# them in this process, e.g. for a debugger.
TEST_WORKERS ?= 2
test: install-test
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

## bench: the benchmarks (slow; not part of make test)
bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/pipeline.py

clean:
	rm -rf $(VENV) .whispersync .pytest_cache
