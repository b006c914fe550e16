"""API keys on every /v1 route, nothing secret in the logs, content (never server paths) ingested,
and a soak run at concurrency 16 with no errors and flat memory."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from rag.config import Settings
from rag.pipeline import Pipeline
from rag_api.main import create_app
from tests.conftest import ROOT, SEED_QUESTION, serving

KEY = "k-3f9a-very-secret"


def test_every_v1_route_in_the_openapi_document_needs_the_key(seeded_dir, minilm):
    client = TestClient(create_app(Pipeline(Settings(data_dir=seeded_dir, api_keys=KEY), embedder=minilm)))
    routes = [(method.upper(), re.sub(r"\{[^}]+\}", "x", path))
              for path, ops in client.get("/openapi.json").json()["paths"].items() for method in ops
              if path.startswith("/v1/")]
    assert len(routes) >= 8
    for method, path in routes:
        response = client.request(method, path, json={})
        assert response.status_code == 401, (method, path)
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200


def test_keys_and_article_texts_stay_out_of_the_logs_and_paths_are_never_read(tmp_path):
    log = tmp_path / "server.log"
    secret_text = "Quillotrax cooperative shipped 77 kilograms of saffron to Minsk on Tuesday."
    headers = {"authorization": f"Bearer {KEY}"}
    with serving({"RAG_DATA_DIR": str(tmp_path / "store"), "RAG_API_KEYS": KEY}, log_path=log) as url:
        assert httpx.post(f"{url}/v1/articles", json={"id": "s", "text": secret_text}, headers=headers,
                          timeout=60).status_code == 200
        as_path = httpx.post(f"{url}/v1/articles", json={"id": "p", "text": "/etc/hostname"}, headers=headers,
                             timeout=60)
        assert as_path.status_code == 200
        stored = httpx.get(f"{url}/v1/articles/p", headers=headers, timeout=60).json()["text"]
        assert stored == "/etc/hostname"  # the content given, not the file it names
        no_text = httpx.post(f"{url}/v1/articles", json={"id": "q", "path": "/etc/hostname"}, headers=headers,
                             timeout=60)
        assert no_text.status_code == 422 and "missing field 'text'" in no_text.json()["detail"]
        httpx.post(f"{url}/v1/ask", json={"question": "How much saffron was shipped?"}, headers=headers, timeout=60)
        httpx.get(f"{url}/v1/models", headers={"authorization": "Bearer wrong-key"}, timeout=60)
    logged = log.read_text(encoding="utf-8", errors="replace")
    assert "POST /v1/articles" in logged  # the log is there ...
    assert KEY not in logged and "wrong-key" not in logged and "saffron" not in logged  # ... without secrets


@pytest.mark.slow
def test_soak_of_1024_requests_at_concurrency_16_has_no_errors_and_flat_memory(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {"RAG_DATA_DIR": str(tmp_path / "store")}
    subprocess.run([sys.executable, "-m", "rag", "ingest", str(ROOT / "seeds"), str(ROOT / "evals" / "corpus")],
                   env=env, check=True, capture_output=True)
    questions = [SEED_QUESTION, "Who built the grain elevators in Karshi?", "How many electric buses is Almaty buying?",
                 "What did Belarus and Primorsky Krai discuss?", "Why did cashmere prices in Mongolia rise?"]
    with serving({"RAG_DATA_DIR": str(tmp_path / "store")}) as url:
        pid = _server_pid(url)

        async def run(per_worker: int) -> tuple[int, int]:
            # A fixed number of requests, not a time window: the test checks errors and memory, never speed.
            ok = errors = 0
            async with httpx.AsyncClient(base_url=url, timeout=60,
                                         limits=httpx.Limits(max_connections=16)) as client:
                async def worker(n: int) -> None:
                    nonlocal ok, errors
                    for i in range(per_worker):
                        r = await client.post("/v1/ask", json={"question": questions[(n + i) % len(questions)]})
                        ok, errors = ok + (r.status_code == 200), errors + (r.status_code != 200)
                await asyncio.gather(*(worker(i) for i in range(16)))
            return ok, errors

        asyncio.run(run(10))  # warm-up: caches fill, allocator settles
        before = _rss_mb(pid)
        ok, errors = asyncio.run(run(64))
        after = _rss_mb(pid)
    assert (ok, errors) == (16 * 64, 0)
    assert after - before < 40, f"server memory grew from {before} to {after} MB over {ok} requests"


def _server_pid(url: str) -> int:
    port = url.rsplit(":", 1)[1]
    found = subprocess.run(["pgrep", "-f", "--", f"serve --port {port}"], capture_output=True, text=True)
    return int(found.stdout.split()[0])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")
