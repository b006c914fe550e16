"""Faults and concurrency with real processes: ingestion killed or its Chroma server stopped
midway, Chroma down while serving, overlapping ingests with queries running. Nothing is lost,
nothing is duplicated, and the lexical index ends consistent with the vectors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from itertools import islice
from pathlib import Path

import httpx

from benchmarks.corpus import articles, sentence_bank
from rag.config import Settings
from rag.pipeline import Pipeline
from tests.conftest import SEED_QUESTION, SEEDS, _free_port, serving, start_chroma, stop

ARTICLES = list(islice(articles(sentence_bank(400)), 60))


def write_jsonl(path: Path, items) -> Path:  # type: ignore[no-untyped-def]
    path.write_text("".join(json.dumps(a.model_dump(exclude_none=True)) + "\n" for a in items), encoding="utf-8")
    return path


def rag_env(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | extra


def expected_chunk_ids(settings: Settings, minilm, items) -> set[str]:  # type: ignore[no-untyped-def]
    chunker = Pipeline(settings, embedder=minilm)
    return {c.id for a in items for c in chunker.chunk(a)}


def assert_exact(settings: Settings, minilm, items) -> None:  # type: ignore[no-untyped-def]
    pipeline = Pipeline(settings, embedder=minilm)
    assert pipeline.store.count_articles() == len(items)
    stored = pipeline.store.all_chunk_ids()
    assert stored == expected_chunk_ids(settings, minilm, items)  # no duplicates, no stale chunks
    assert pipeline.store.count_chunks() == len(stored)
    pipeline.index.sync()
    assert pipeline.index.lexical.ids() == stored  # the lexical index matches the vectors


def run_until_killed(command: list[str], env: dict[str, str], after: float, kill) -> subprocess.Popen:  # type: ignore[no-untyped-def,type-arg]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(after)
    kill(proc)
    return proc


def test_an_ingest_killed_midway_is_completed_exactly_by_running_it_again(tmp_path, minilm):
    corpus = write_jsonl(tmp_path / "news.jsonl", ARTICLES)
    env = rag_env(RAG_DATA_DIR=str(tmp_path / "store"))
    proc = run_until_killed([sys.executable, "-m", "rag", "ingest", str(corpus)], env, 4.0,
                            lambda p: p.send_signal(signal.SIGKILL))
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL  # it really died midway
    again = subprocess.run([sys.executable, "-m", "rag", "ingest", str(corpus)], env=env, capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert_exact(Settings(data_dir=tmp_path / "store"), minilm, ARTICLES)


def test_an_ingest_whose_chroma_server_stops_fails_clearly_and_completes_when_it_is_back(tmp_path, minilm):
    port = _free_port()
    server = start_chroma(tmp_path / "chroma", port)
    url = f"http://127.0.0.1:{port}"
    corpus = write_jsonl(tmp_path / "news.jsonl", ARTICLES)
    env = rag_env(RAG_DATA_DIR=str(tmp_path / "local"), RAG_CHROMA_URL=url)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "rag", "ingest", str(corpus)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(4.0)
        stop(server)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 1
        assert "Chroma server" in stderr and "Traceback" not in stderr
        server = start_chroma(tmp_path / "chroma", port)
        again = subprocess.run([sys.executable, "-m", "rag", "ingest", str(corpus)], env=env, capture_output=True,
                               text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert_exact(Settings(data_dir=tmp_path / "local", chroma_url=url), minilm, ARTICLES)
    finally:
        stop(server)


def test_chroma_down_while_serving_is_a_503_and_service_resumes_by_itself(tmp_path):
    port = _free_port()
    server = start_chroma(tmp_path / "chroma", port)
    env = {"RAG_DATA_DIR": str(tmp_path / "local"), "RAG_CHROMA_URL": f"http://127.0.0.1:{port}"}
    try:
        with serving(env) as api:
            seed = {"id": "seed", "text": (SEEDS / "000_c06dfa642b09c354.txt").read_text(encoding="utf-8")}
            assert httpx.post(f"{api}/v1/articles", json=seed, timeout=60).status_code == 200
            stop(server)
            ready = httpx.get(f"{api}/readyz", timeout=60)
            assert ready.status_code == 503 and ready.json()["checks"]["store"].startswith("unreachable")
            down = httpx.post(f"{api}/v1/ask", json={"question": SEED_QUESTION}, timeout=60)
            assert down.status_code == 503 and "unreachable" in down.json()["detail"]
            server = start_chroma(tmp_path / "chroma", port)
            back = httpx.post(f"{api}/v1/ask", json={"question": SEED_QUESTION}, timeout=60)
            assert back.status_code == 200 and back.json()["citations"]
            assert httpx.get(f"{api}/readyz", timeout=60).status_code == 200
    finally:
        stop(server)


def test_overlapping_concurrent_ingests_with_queries_running_end_exact(tmp_path, chroma_url, minilm):
    prefix = f"conc{time.monotonic_ns()}"
    env = {"RAG_DATA_DIR": str(tmp_path / "local"), "RAG_CHROMA_URL": chroma_url, "RAG_COLLECTION_PREFIX": prefix}
    first = write_jsonl(tmp_path / "a.jsonl", ARTICLES[:40])
    second = write_jsonl(tmp_path / "b.jsonl", ARTICLES[20:])
    statuses: list[int] = []
    log = tmp_path / "serve.log"
    with serving(env, log_path=log) as api:
        done = threading.Event()

        def ask_repeatedly() -> None:
            while not done.is_set():
                statuses.append(httpx.get(f"{api}/v1/search", params={"q": "tractors for Minsk"}, timeout=60)
                                .status_code)

        asker = threading.Thread(target=ask_repeatedly)
        asker.start()
        procs = [subprocess.Popen([sys.executable, "-m", "rag", "ingest", str(f)], env=rag_env(**env),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in (first, second)]
        results = [p.communicate(timeout=300) for p in procs]
        done.set()
        asker.join()
    assert [p.returncode for p in procs] == [0, 0], results
    problems = [line for line in log.read_text(errors="replace").splitlines() if '" 200 OK' not in line]
    assert statuses and set(statuses) == {200}, "\n".join(problems[-60:])
    assert_exact(Settings(data_dir=tmp_path / "local", chroma_url=chroma_url, collection_prefix=prefix),
                 minilm, ARTICLES)
