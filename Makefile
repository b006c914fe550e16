# The README's commands. `make demo` and `make test` each install what they need first.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
QUESTION ?= What did Belarus offer Astrakhan?
EVAL_CORPUS = --corpus seeds --corpus evals/corpus
# Each `rag eval` ingests its corpus into a fresh store; the gate's datasets share corpora, so their
# vectors are kept here and each text is embedded once per gate run (bit-identical vectors).
EMBED_CACHE = out/embed-cache.sqlite
FRESH_CACHE = rm -f $(EMBED_CACHE) $(EMBED_CACHE)-wal $(EMBED_CACHE)-shm

CHROMIUM ?= /usr/bin/chromium
# pytest processes for `make pytest` (pytest-xdist; whole files per worker, so a file's module
# fixtures are built once). 1, the default: on a clean clone `-n 2` reported 368 passed of 381
# collected, with no failure, skip or crash shown (docs/TESTING.md). `make pytest PYTEST_WORKERS=2` to try.
PYTEST_WORKERS ?= 1

BENCH_SIZES ?= 1000 10000
SCALE_CHUNKS ?= 100000

# Real news for development (never copied into the project); eval-news skips when it is absent.
NEWS_DEV ?= ../shared/data/news-dev

# The lock files (issue 27, item 5): every package of the dependency tree pinned with its hashes,
# resolved by uv from PyPI for any platform (--universal). pyproject.toml keeps the ranges;
# `make lock` re-resolves them, `make lock-check` installs the lock with the oldest pip we support.
LOCK     = requirements-dev.lock
APP_LOCK = requirements.lock
UV_VERSION ?= 0.13.9
UV       = .uv/bin/uv
UV_COMPILE = $(UV) pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 \
	--index-url https://pypi.org/simple --custom-compile-command "make lock"
OLDEST_PIP ?= 23.2

.PHONY: install browser demo test pytest unit eval-gate eval-news eval-xquad eval lint bench clean lock lock-check

# The lock first (hashes required: nothing unpinned or altered is installed), then the project
# itself without dependencies. The venv's own pip is used as it is: the lock works from pip 23.2.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## Re-resolve the lock files from pyproject.toml's ranges (needs PyPI; uv in .uv/, not in the app's venv).
lock:
	test -x $(UV) || { $(PYTHON) -m venv .uv && .uv/bin/python -m pip install --quiet uv==$(UV_VERSION); }
	$(UV_COMPILE) -o $(APP_LOCK)
	$(UV_COMPILE) --extra dev --extra multilingual -o $(LOCK)

## A clean venv with pip $(OLDEST_PIP) installs the lock, and HTML ingest (trafilatura + lxml_html_clean) works.
lock-check:
	rm -rf out/lock-check && mkdir -p out/lock-check
	$(PYTHON) -m venv out/lock-check/venv
	out/lock-check/venv/bin/python -m pip install --quiet pip==$(OLDEST_PIP)
	out/lock-check/venv/bin/python -m pip --version
	out/lock-check/venv/bin/python -m pip install --quiet --require-hashes -r $(APP_LOCK)
	out/lock-check/venv/bin/python -m pip install --quiet --no-deps -e .
	out/lock-check/venv/bin/python -m pip check
	out/lock-check/venv/bin/python -c "import lxml_html_clean, trafilatura"
	printf '<html><head><title>Lock check</title></head><body><article><h1>Lock check</h1><p>The harbour of Velmora reopened on Monday after the storm, the port authority said in a statement.</p><p>Ferries to the islands will run on the winter timetable until March.</p></article></body></html>' > out/lock-check/page.html
	cd out/lock-check && RAG_DATA_DIR=store venv/bin/rag ingest page.html
	@echo "lock-check: pip $(OLDEST_PIP) installed $(APP_LOCK) and ingested an HTML page"

## Debian's chromium for the browser test (Playwright drives it; nothing is downloaded by Playwright).
browser:
	@test -x $(CHROMIUM) || { echo "installing chromium for the browser test"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

## Install, ingest seeds/, answer the seed question (embedded Chroma, offline).
demo: install
	$(BIN)/rag ingest seeds
	$(BIN)/rag ask "$(QUESTION)"

## Install test needs, lint (ruff, mypy), run the test suite, then the eval gate.
test: install lint browser pytest eval-gate

pytest: install browser
	$(BIN)/python -m pytest $(if $(filter-out 1,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile)

## The unit tier alone (tests/unit: no model, no server, no process; the hashing fake embedder and a
## scripted in-process LLM), with its coverage of rag/answering/ (at least 80%). docs/TESTING.md has the tiers.
## The hypothesis and schemathesis plugins are left out: importing them costs more than the tests.
unit: install
	$(BIN)/python -m pytest tests/unit -q -p no:hypothesispytest -p no:schemathesis -p no:anyio \
	  --cov=rag/answering --cov-report=term --cov-fail-under=80

eval-gate: install
	$(FRESH_CACHE)
	$(BIN)/rag eval --dataset evals/datasets/seed.jsonl $(EVAL_CORPUS) --out out/eval-seed --floors evals/floors/seed.json --embed-cache $(EMBED_CACHE)
	$(BIN)/rag eval --dataset evals/datasets/corpus.jsonl $(EVAL_CORPUS) --out out/eval-corpus --floors evals/floors/corpus.json --embed-cache $(EMBED_CACHE)
	$(BIN)/rag eval --dataset evals/datasets/lexical.jsonl $(EVAL_CORPUS) --out out/eval-lexical --floors evals/floors/lexical.json --embed-cache $(EMBED_CACHE)
	$(BIN)/rag eval --dataset evals/datasets/followups.jsonl $(EVAL_CORPUS) --out out/eval-followups --floors evals/floors/followups.json --embed-cache $(EMBED_CACHE)
	$(BIN)/rag eval --dataset evals/datasets/time.jsonl --corpus evals/corpus-time --out out/eval-time --floors evals/floors/time.json --embed-cache $(EMBED_CACHE)
	$(BIN)/rag eval quotes --dataset evals/datasets/quotes.jsonl $(EVAL_CORPUS) --out out/eval-quotes --floors evals/floors/quotes.json --embed-cache $(EMBED_CACHE)
	$(MAKE) --no-print-directory eval-news

## Real news (issue 13): answers and refusals on $(NEWS_DEV), gated by evals/floors/news-*.json.
eval-news: install
	@if [ ! -f "$(NEWS_DEV)/dataset-literal.jsonl" ]; then echo "eval-news: skipped, no real-news dev data at $(NEWS_DEV)"; exit 0; fi; \
	set -e; $(FRESH_CACHE); \
	$(BIN)/rag eval --dataset $(NEWS_DEV)/dataset-literal.jsonl --corpus $(NEWS_DEV)/corpus.jsonl --out out/eval-news --floors evals/floors/news-literal.json --embed-cache $(EMBED_CACHE); \
	$(BIN)/rag eval --dataset $(NEWS_DEV)/dataset-refusal.jsonl --corpus $(NEWS_DEV)/corpus-minus.jsonl --out out/eval-news-refusal --floors evals/floors/news-refusal.json --embed-cache $(EMBED_CACHE)

## Benchmarks (minutes; never part of `make test`): results/*.json and benchmarks/RESULTS.md.
## 100k chunks: make bench BENCH_SIZES="1000 10000 100000"; replicas at 1M: make bench SCALE_CHUNKS=1000000
bench: install
	$(BIN)/python -m benchmarks.bench_ingest --chunks 1000
	$(BIN)/python -m benchmarks.bench_query --sizes $(BENCH_SIZES)
	$(BIN)/python -m benchmarks.bench_cli
	$(BIN)/python -m benchmarks.bench_api
	$(BIN)/python -m benchmarks.bench_llm
	$(BIN)/python -m benchmarks.retrieval_sweep
	$(BIN)/python -m benchmarks.llm_sources
	$(BIN)/python -m benchmarks.bench_scale --chunks $(SCALE_CHUNKS)
	$(BIN)/python -m benchmarks.report

## ruff, then mypy over rag/ and api/ ([tool.mypy] in pyproject.toml).
lint: install
	$(BIN)/ruff check rag api tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf .rag out

## English questions over Russian paragraphs (issue 28): each local embedder on ../shared/data/xquad-dev.
XQUAD_DEV ?= ../shared/data/xquad-dev
XQUAD_MODELS ?= minilm multilingual-e5-small
eval-xquad: install
	@if [ ! -f "$(XQUAD_DEV)/dataset.jsonl" ]; then echo "eval-xquad: skipped, no XQuAD dev data at $(XQUAD_DEV)"; exit 0; fi; \
	set -e; for model in $(XQUAD_MODELS); do \
	  RAG_EMBED_MODEL=$$model $(BIN)/rag eval --dataset $(XQUAD_DEV)/dataset.jsonl --corpus $(XQUAD_DEV)/corpus.jsonl \
	    --out out/eval-xquad-$$model --embed-cache out/embed-cache-xquad.sqlite; \
	done
