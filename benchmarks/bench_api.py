"""`rag serve` under load on loopback: POST /v1/ask (extractive) at concurrency 1, 4 and 16, a
bounded number of requests each; requests/s, latency percentiles, errors, server memory.

Run: .venv/bin/python -m benchmarks.bench_api [--requests 400]  (writes results/api.json)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.common import RAG, ROOT, env, rss_mb, summary_ms, write
from tests.conftest import serving


async def load(url: str, questions: list[str], requests: int, concurrency: int) -> dict[str, object]:
    latencies: list[float] = []
    errors = 0
    queue = iter(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in queue:
            started = time.perf_counter()
            response = await client.post("/v1/ask", json={"question": questions[i % len(questions)],
                                                          "mode": "extractive"})
            latencies.append(time.perf_counter() - started)
            errors += response.status_code != 200

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"concurrency": concurrency, "requests": requests, "errors": errors,
            "requests_per_s": round(requests / elapsed, 1), **summary_ms(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--embed-threads", type=int)
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for name in ("seed", "corpus")
                 for line in (ROOT / "evals" / "datasets" / f"{name}.jsonl").read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        store = {"RAG_DATA_DIR": str(Path(tmp) / "store")}
        subprocess.run([*RAG, "ingest", str(ROOT / "seeds"), str(ROOT / "evals" / "corpus")], env=env(**store),
                       check=True, capture_output=True)
        server_env = store | ({"RAG_EMBED_THREADS": str(args.embed_threads)} if args.embed_threads else {})
        with serving(server_env) as url:
            port = url.rsplit(":", 1)[1]
            pid = int(subprocess.run(["pgrep", "-f", "--", f"serve --port {port}"], capture_output=True,
                                     text=True).stdout.split()[0])
            asyncio.run(load(url, questions, 50, 4))  # warm up
            before = rss_mb(pid)
            levels = [asyncio.run(load(url, questions, args.requests, c)) for c in (1, 4, 16)]
            after = rss_mb(pid)
    result = {"endpoint": "POST /v1/ask (extractive)", "embed_threads": args.embed_threads or "default",
              "server_rss_mb_before": before, "server_rss_mb_after": after,
              "levels": levels}
    for level in levels:
        print(level)
    print(f"server RSS {before} -> {after} MB")
    write("api", result)


if __name__ == "__main__":
    main()
