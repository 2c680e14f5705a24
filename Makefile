# One entry point for people and CI alike. Each target creates the virtualenv itself.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck unit bench chaos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

## the main job on the embedded default (no Redis, no TikTok account needed)
demo: $(STAMP)
	$(BIN)/masivo-tiktok demo

## the whole test suite with its quality gates
test: $(STAMP) lint typecheck
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## benchmarks (numbers go to docs/benchmarks.md); not part of `make test`
bench: $(STAMP)
	$(BIN)/python bench/transform.py
	$(BIN)/python bench/emulator.py
	$(BIN)/python bench/pipeline.py

## the reliability suite at full size (Redis kill -9, maxmemory, garbage, leak scans);
## measurements go to .masivo-tiktok/chaos.jsonl (docs/reliability.md)
chaos: $(STAMP)
	mkdir -p .masivo-tiktok && rm -f .masivo-tiktok/chaos.jsonl
	MASIVO_TIKTOK_CHAOS=full MASIVO_TIKTOK_CHAOS_REPORT=$(CURDIR)/.masivo-tiktok/chaos.jsonl \
		$(BIN)/pytest -q tests/system/test_reliability.py tests/system/test_worker.py
	cat .masivo-tiktok/chaos.jsonl

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .masivo-tiktok
