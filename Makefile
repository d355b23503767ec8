# Two entry points for a fresh machine: `make run` (the assistant) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test ingest eval bench bench-channel clean

run: $(VENV)/.installed
	$(BIN)/python -m bot run

test: $(VENV)/.installed-test
	$(BIN)/ruff check bot tests benchmarks ingest.py
	$(BIN)/mypy
	$(BIN)/python -m pytest

ingest: $(VENV)/.installed
	$(BIN)/python -m bot ingest

eval: $(VENV)/.installed
	$(BIN)/python -m bot eval --queries eval/dev_queries.jsonl --conversations eval/followups.jsonl
	$(BIN)/python -m bot eval --queries eval/heldout_queries.jsonl

bench: $(VENV)/.installed
	$(BIN)/python -m bot bench

bench-channel: $(VENV)/.installed-test
	$(BIN)/python benchmarks/channel_bench.py

$(VENV)/.created:
	@$(PYTHON) -c 'import sys; assert (3, 11) <= sys.version_info[:2] < (3, 13), "需要 Python 3.11 或 3.12"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.created
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[sentence-transformers,test]'
	touch $@

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
