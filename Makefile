# A new user's whole story: `make demo`, then `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
SHARED ?= ../shared

.PHONY: demo test lint bench contract clean sysdeps

# Debian libraries the harness loads from the system: Pango and HarfBuzz, for the decision memo's PDF (WeasyPrint).
# Installed when missing and we may (root, or password-less sudo); otherwise say what to install and go on.
SYSDEPS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
sysdeps:
	@missing=""; for lib in libpango-1.0.so.0 libpangoft2-1.0.so.0 libharfbuzz-subset.so.0; do \
		ldconfig -p 2>/dev/null | grep -q "$$lib" || missing="$(SYSDEPS)"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing; \
		elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
			sudo -n apt-get update -qq && sudo -n apt-get install -y -qq $$missing; \
		else echo "the memo's PDF needs $$missing: install them with apt-get (as root); HTML and Markdown work" \
			"without" >&2; fi; fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed sysdeps
	$(BIN)/harness demo

test: $(VENV)/.installed-dev sysdeps
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
	$(BIN)/python benchmarks/bench_quality.py
	$(BIN)/python benchmarks/bench_explainability.py
	$(BIN)/python benchmarks/bench_pages.py

clean:
	rm -rf $(VENV) mlruns reports/demo .pytest_cache
