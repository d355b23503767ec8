# Two entry points for a fresh machine: `make run` (the assistant) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test browser ingest eval eval-external bench bench-channel bench-console bench-petitions bench-notices clean

run: $(VENV)/.installed
	$(BIN)/python -m bot run

test: $(VENV)/.installed-test browser
	$(BIN)/ruff check bot tests benchmarks ingest.py
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The console's browser tests drive Debian's chromium package (never a browser downloaded at test time).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "安装 Debian 的 chromium（控制台浏览器测试用）"; \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	  else echo "没有 chromium，也没有 apt-get：浏览器测试将跳过（CI=1 时失败）"; fi; }

ingest: $(VENV)/.installed
	$(BIN)/python -m bot ingest

eval: $(VENV)/.installed
	$(BIN)/python -m bot eval --queries eval/dev_queries.jsonl --conversations eval/followups.jsonl \
	  --conversations eval/followups_new_topic.jsonl
	$(BIN)/python -m bot eval --queries eval/heldout_queries.jsonl

# Third-party question sets (research use only, never copied into the project): every <set>_kb with its
# <set>_queries.jsonl in the folder, one table; skipped with a message when the folder is absent.
EXTERNAL_QA ?= ../shared/data/external-qa

eval-external: $(VENV)/.installed
	$(BIN)/python -m bot eval-sets --sets $(EXTERNAL_QA)

bench: $(VENV)/.installed
	$(BIN)/python -m bot bench

bench-channel: $(VENV)/.installed-test
	$(BIN)/python benchmarks/channel_bench.py

bench-console: $(VENV)/.installed-test
	$(BIN)/python benchmarks/console_bench.py

# 50,000 petitions on SQLite and on the local PostgreSQL (see the test database in README "Two commands").
bench-petitions: $(VENV)/.installed-test
	$(BIN)/python benchmarks/petition_bench.py

# One notice to 2,000 groups through the Wechaty gateway: our overhead at interval zero, then the paced rate.
bench-notices: $(VENV)/.installed-test
	$(BIN)/python benchmarks/notice_bench.py

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
