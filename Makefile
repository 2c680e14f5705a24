# One entry point for people and CI alike. Each target creates the virtualenv itself.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck unit bench chaos clean lock

# Exact versions come from constraints.txt (written by `make lock`), so every machine and the
# image install the same dependencies.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

## resolve every dependency (all extras, any platform, Python 3.11) into constraints.txt,
## keeping the pins it already has; `make lock LOCK_FLAGS=--upgrade` takes newer releases
lock: $(STAMP)
	$(BIN)/uv pip compile --quiet pyproject.toml --extra test --extra flower --universal \
		--python-version 3.11 --custom-compile-command "make lock" $(LOCK_FLAGS) \
		-o constraints.txt

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
	$(BIN)/python bench/scrape.py
	$(BIN)/python bench/durability.py
	$(BIN)/python bench/producer.py

## the reliability suite at full size (Redis kill -9, maxmemory, garbage, leak scans);
## measurements go to .masivo-tiktok/chaos.jsonl (docs/reliability.md)
chaos: $(STAMP)
	mkdir -p .masivo-tiktok && rm -f .masivo-tiktok/chaos.jsonl
	MASIVO_TIKTOK_CHAOS=full MASIVO_TIKTOK_CHAOS_REPORT=$(CURDIR)/.masivo-tiktok/chaos.jsonl \
		$(BIN)/pytest -q tests/system/test_reliability.py tests/system/test_worker.py tests/system/test_cluster.py \
		tests/system/test_cluster_attacks.py
	cat .masivo-tiktok/chaos.jsonl

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .masivo-tiktok
