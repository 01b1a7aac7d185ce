# The two commands of the README. Each creates .venv when missing and installs rnnkit into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.rnnkit-installed
OPS := $(VENV)/.rnnkit-ops

.PHONY: demo test test-floor install bench lint clean

# The demo builds the fused op on first use (one warning if it cannot: the plain loop runs).
# Its runs go to ./runs/demo; run again, it replaces its own earlier runs there, nothing else.
demo: $(STAMP)
	$(BIN)/rnnkit demo --overwrite

# One pytest worker per core, each test file on one worker (its module fixtures run once).
TEST_WORKERS ?= auto

test: $(OPS)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

install: $(OPS)

# The lowest pandas and numpy that setup.cfg allows (tests/test_packaging.py checks they are its
# floors), in a virtual environment of their own: the forecasting and sentiment tests, which
# lean on pandas most, run against them too (.ci/run, after `make test`).
FLOOR := "pandas==2.2.*" "numpy==2.0.*"
FLOOR_VENV ?= .venv-floor
FLOOR_TESTS := tests/apps/test_forecasting.py tests/apps/test_forecasting_backtest.py \
	tests/apps/test_forecasting_statistical.py \
	tests/apps/test_sentiment.py tests/apps/test_sentiment_data.py tests/apps/test_sentiment_vectors.py

test-floor: $(FLOOR_VENV)/.rnnkit-installed
	$(FLOOR_VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(FLOOR_TESTS)

$(FLOOR_VENV)/.rnnkit-installed: setup.cfg pyproject.toml Makefile
	test -x $(FLOOR_VENV)/bin/python || $(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FLOOR_VENV)/bin/python -m pip install --quiet -e '.[test]' $(FLOOR)
	touch $@

# PyTorch for the reference rows, then the speed table (benchmarks/results/recurrent_speed.md).
bench: $(OPS)
	$(BIN)/python -m pip install --quiet -e '.[bench,test]'
	$(BIN)/python -m benchmarks.recurrent_speed

# Reinstall whenever the packaging metadata changes.
$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The fused recurrence op (layers/_ops/), compiled once for this CPU's instruction-set target
# against this TensorFlow. A build that fails (or no compiler) is one warning, never an error:
# the recurrent layers then run the plain TensorFlow loop.
$(OPS): layers/_ops/recurrence.cc layers/_ops/gemm.h layers/_ops/crew.h $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -c "from rnnkit.layers import fused; print(fused.prebuild())"
	touch $(OPS)

lint: $(STAMP)
	$(BIN)/ruff check layers apps tests benchmarks

clean:
	rm -rf $(VENV) $(FLOOR_VENV) build *.egg-info layers/_ops/*.so layers/_ops/*.failed
	rm -f "$${RNNKIT_CACHE:-$$HOME/.cache/rnnkit}"/recurrence_*
