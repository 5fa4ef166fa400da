# A new user's whole story: `make demo`, then `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SHARED ?= ../shared

.PHONY: demo test lint bench contract clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/harness demo

test: $(VENV)/.installed-dev
	$(BIN)/ruff check harness test_suites tests benchmarks datasets examples
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=15 tests
	@if [ -f $(SHARED)/acceptance/contract.py ]; then \
		$(BIN)/python $(SHARED)/acceptance/contract.py; \
	elif [ "$$CI" = "true" ]; then echo "missing $(SHARED)/acceptance/contract.py" >&2; exit 1; \
	else echo "skipping the acceptance contract: $(SHARED)/acceptance is absent"; fi

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check harness test_suites tests benchmarks datasets examples
	$(BIN)/mypy

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_bias.py
	$(BIN)/python benchmarks/bench_calibration.py
	$(BIN)/python benchmarks/bench_nulls.py
	$(BIN)/python benchmarks/bench_generative.py
	$(BIN)/python benchmarks/bench_cli.py
	$(BIN)/python benchmarks/bench_assess.py
	$(BIN)/python benchmarks/bench_predictions.py

clean:
	rm -rf $(VENV) mlruns reports/demo .pytest_cache
