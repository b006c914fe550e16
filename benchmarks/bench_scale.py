"""Replicas under a stream of news (issue 17): one `chroma run` server filled with N chunks, one
writer adding an article every 1-2 s, one reader replica searching back to back.

Records, into results/scale.json (benchmarks/report.py puts them in RESULTS.md):
- a new replica's cold start: its BM25 load time and peak RSS, next to a warm replica's RSS;
- reader latency (p50/p95/p99/max) and throughput, idle and under the writes;
- the follower's poll time when another process wrote (what a search used to wait for);
- write -> visible on the reader replica (lexically), per article.

Vectors are synthetic (random unit vectors; the model's cost is bench_ingest's), the texts are
benchmarks/corpus.py's articles, questions are embedded by the real model. Searches go through
the index layer (ChunkIndex.search) with the question's vector given, so the numbers are the
store's and the index's, not the model's.

The filled store is built once, by a bulk import into an embedded store (`--role fill`, in a
subprocess; ChunkStore.import_articles writes the records, chunks, change entries and vectors the
project writes, 5,000 chunks a call), and cached under `--cache` (default /tmp/rag-scale-cache),
one folder per chunk count; a larger count starts from the largest cached smaller one. Each run
copies the cached folder and serves the copy with `chroma run`, so runs never change the cache.
The writer and the reader are real: writes go through ChunkIndex.write (leases, feed), the reader
is a separate process following the feed.

Run: .venv/bin/python -m benchmarks.bench_scale --chunks 100000 [--seconds 30]   (1M: --chunks 1000000)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from benchmarks.common import RESULTS, pct, rss_mb, write
from benchmarks.corpus import articles, questions, sentence_bank
from rag.config import Settings
from rag.embedding import LocalMiniLM
from rag.pipeline import Pipeline
from tests.conftest import serving

DIM = 384
PREFIX = "scale"


def unit_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


class Synthetic:
    """The local model's tokenizer (chunking is real) with random vectors."""

    def __init__(self, model: LocalMiniLM) -> None:
        self.model = model
        self.name = model.name
        self.max_tokens = model.max_tokens
        self.rng = np.random.default_rng(5)

    def count_tokens(self, texts):  # type: ignore[no-untyped-def]
        return self.model.count_tokens(texts)

    def embed(self, texts):  # type: ignore[no-untyped-def]
        return unit_vectors(len(texts), self.rng)


def start_chroma(path: Path) -> tuple[subprocess.Popen, str]:  # type: ignore[type-arg]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
    log = open(path / "server.log", "ab")
    proc = subprocess.Popen([exe, "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):  # a loaded machine takes long to start it on a large store
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1).read()
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    proc.wait()
    raise RuntimeError("chroma run did not start")


def settings(url: str, prefix: str, data_dir: Path) -> Settings:
    return Settings(chroma_url=url, collection_prefix=prefix, data_dir=data_dir)


FILL_BATCH = 5000  # chunks per bulk import


def fill(data_dir: Path, skip: int, have: int, size: int) -> dict[str, int]:
    """Bulk-import synthetic articles into an embedded store at `data_dir` until it holds `size`
    chunks: the records, chunks (with metadata), change entries and vectors the project writes,
    in large batches (ChunkStore.import_articles). The first `skip` articles of the stream (`have`
    chunks) are already there. The directory is then served by `chroma run`."""
    model = LocalMiniLM()
    pipeline = Pipeline(Settings(collection_prefix=PREFIX, data_dir=data_dir), embedder=Synthetic(model))
    store = pipeline.index.store
    stream = articles(sentence_bank())
    for _ in range(skip):
        next(stream)
    count, n_articles, group, started = have, skip, [], time.monotonic()
    seq = time.time()
    with ThreadPoolExecutor(max_workers=1) as pool:  # chunk the next batch while Chroma takes this one
        pending: Future[None] | None = None
        for article in stream:
            chunks = pipeline.chunk(article, article.content_hash)
            group.append((article, article.content_hash, chunks))
            count += len(chunks)
            n_articles += 1
            if sum(len(g[2]) for g in group) >= FILL_BATCH or count >= size:
                if pending is not None:
                    pending.result()
                vectors = pipeline.embedder.embed([c.text for _, _, cs in group for c in cs])
                pending = pool.submit(store.import_articles, group, vectors, seq)
                group = []
                print(f"  filled {count} chunks ({time.monotonic() - started:.0f} s)", flush=True)
            if count >= size:
                assert pending is not None
                pending.result()
                return {"articles": n_articles, "chunks": count}
    raise AssertionError("unreachable")


def cached_store(cache: Path, size: int) -> tuple[Path, dict[str, int]]:
    """A filled store of `size` chunks under `cache`, built once and reused: a larger size starts
    from the largest smaller one (200k = 100k + 100k more)."""
    cache.mkdir(parents=True, exist_ok=True)
    done = cache / f"{PREFIX}-{size}"
    if (done / "fill.json").exists():
        return done, json.loads((done / "fill.json").read_text())
    smaller = sorted((int(p.name.rsplit("-", 1)[1]), p) for p in cache.glob(f"{PREFIX}-*")
                     if (p / "fill.json").exists() and int(p.name.rsplit("-", 1)[1]) < size)
    work = cache / f".{PREFIX}-{size}-{time.time_ns()}"
    base = {"articles": 0, "chunks": 0}
    if smaller:
        shutil.copytree(smaller[-1][1] / "data", work / "data")
        base = json.loads((smaller[-1][1] / "fill.json").read_text())
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "benchmarks.bench_scale", "--role", "fill", "--data-dir",
                    str(work / "data"), "--skip", str(base["articles"]), "--have", str(base["chunks"]),
                    "--chunks", str(size)], check=True)
    meta = json.loads((work / "data" / "fill.json").read_text())
    meta["fill_s"] = round(time.monotonic() - started, 1)
    (work / "fill.json").write_text(json.dumps(meta))
    work.rename(done)
    return done, meta


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU cores used per second of wall time by the server, the reader and the writer's process,
    phase by phase: where a stream of writes takes its CPU on a machine the three share."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.marks: list[tuple[float, dict[str, float]]] = []

    def mark(self) -> None:
        self.marks.append((time.monotonic(), {name: cpu_s(pid) for name, pid in self.pids.items()}))

    def rates(self, start: int) -> dict[str, float]:
        (t0, c0), (t1, c1) = self.marks[start], self.marks[start + 1]
        return {name: round((c1[name] - c0[name]) / (t1 - t0), 3) for name in self.pids}


def latencies(times: list[float], seconds: float) -> dict[str, float]:
    """Request times (s) over a run of `seconds`: percentiles and max in ms, and requests a second."""
    ms = [t * 1000 for t in times]
    return {"p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "p99_ms": pct(ms, 99), "max_ms": round(max(ms), 1),
            "qps": round(len(ms) / seconds, 1), "n": len(ms)}


def reader(args: argparse.Namespace) -> None:
    """A replica process: cold start (or warm open), idle searches, then searches under writes."""
    model = LocalMiniLM()
    pipeline = Pipeline(settings(args.url, args.prefix, Path(args.data_dir)), embedder=Synthetic(model))
    asked = questions(sentence_bank(), 200)
    vectors = model.embed(asked)
    out: dict[str, object] = {"rss_before_mb": rss_mb()}
    started = time.monotonic()
    pipeline.index.load()
    out["peak_rss_load_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    pipeline.index.sync()
    out["open_s"] = round(time.monotonic() - started, 2)
    out["load_s"] = pipeline.index.stats.load_s  # to lexical search
    out["vectors_s"] = pipeline.index.stats.vectors_s  # filling in the chunk vectors after it
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    # the load's stem worker (rag/stem_worker.py) is a second process: its peak counts too
    out["worker_peak_rss_mb"] = pipeline.index.stats.worker_peak_rss_mb
    pipeline.index.start_background()

    def run(seconds: float) -> dict[str, float]:
        times: list[float] = []
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end:
            q = i % len(asked)
            t0 = time.perf_counter()
            pipeline.index.search(asked[q], vectors[q], 8)
            times.append(time.perf_counter() - t0)
            i += 1
        return latencies(times, seconds)

    run(3)  # warm
    if not args.warm_only:
        print("IDLE", flush=True)
    out["idle"] = run(args.seconds)
    out["rss_warm_mb"] = rss_mb()
    if args.warm_only:
        print(json.dumps(out), flush=True)
        return
    print("WRITES", flush=True)
    stop = threading.Event()
    lags_before = len(pipeline.index.stats.lags_s)

    polls: list[float] = []
    poll_cpu: list[float] = []
    applied_before = pipeline.index.stats.applied

    def sample_polls() -> None:
        last = pipeline.index.stats.polls
        while not stop.is_set():
            s = pipeline.index.stats
            if s.polls != last:
                polls.append(s.last_poll_s)
                poll_cpu.append(s.last_poll_cpu_s)
                last = s.polls
            time.sleep(0.05)

    threads = [threading.Thread(target=sample_polls, daemon=True)]
    for t in threads:
        t.start()
    out["writes"] = run(args.seconds)
    stop.set()
    for t in threads:
        t.join()
    # write -> lexically visible here: the follower's own record (the writer's seq is its clock, this host's)
    seen = list(pipeline.index.stats.lags_s)[lags_before:]
    out["visible_s"] = {"p50": pct(seen, 50), "max": round(max(seen), 3), "n": len(seen)} if seen else {}
    ms = [p * 1000 for p in polls]
    out["follower_poll_ms"] = {"p50": pct(ms, 50), "p99": pct(ms, 99), "max": round(max(ms), 1),
                               "n": len(ms)} if ms else {}
    cpu_ms = [p * 1000 for p in poll_cpu]
    out["follower_poll_cpu_ms"] = {"p50": pct(cpu_ms, 50), "p99": pct(cpu_ms, 99), "max": round(max(cpu_ms), 1),
                                   "sum_s": round(sum(poll_cpu), 3)} if cpu_ms else {}
    out["applied"] = pipeline.index.stats.applied - applied_before
    out["rss_end_mb"] = rss_mb()
    print(json.dumps(out), flush=True)


def api_clients(api: str, asked: list[str], seconds: float, clients: int = 4) -> dict[str, float]:
    """`clients` threads calling GET /v1/search back to back for `seconds`."""
    times: list[float] = []
    errors = [0]
    end = time.monotonic() + seconds

    def client(offset: int) -> None:
        with httpx.Client(base_url=api, timeout=60) as http:
            i = offset
            while time.monotonic() < end:
                t0 = time.perf_counter()
                response = http.get("/v1/search", params={"q": asked[i % len(asked)], "k": 8})
                times.append(time.perf_counter() - t0)
                errors[0] += response.status_code != 200
                i += clients

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {**latencies(times, seconds), "errors": errors[0]}


def api_phase(url: str, prefix: str, data_dir: Path, writer: Pipeline, bank: list[str],
              seconds: float) -> dict[str, object]:
    """A `rag serve` replica on the reader's (warm) index file: 4 clients, idle, then under writes."""
    asked = questions(bank, 200)
    env = {"RAG_CHROMA_URL": url, "RAG_COLLECTION_PREFIX": prefix, "RAG_DATA_DIR": str(data_dir)}
    with serving(env) as api:
        deadline = time.monotonic() + 300
        while "ok" not in str(httpx.get(f"{api}/readyz", timeout=30).json()["checks"].get("lexical")):
            if time.monotonic() > deadline:
                raise RuntimeError("the API replica's lexical index did not get ready")
            time.sleep(0.5)
        api_clients(api, asked, 3)  # warm
        idle = api_clients(api, asked, seconds)
        stop, write_s = threading.Event(), []
        thread = threading.Thread(target=writer_loop, args=(writer, bank, stop, write_s))
        thread.start()
        try:
            busy = api_clients(api, asked, seconds)
        finally:
            stop.set()
            thread.join()
    return {"clients": 4, "endpoint": "GET /v1/search", "idle": idle, "writes": busy, "n_writes": len(write_s)}


def writer_loop(pipeline: Pipeline, bank: list[str], stop: threading.Event, log: list[float]) -> None:
    rng = random.Random(17)
    stream = articles(bank, seed=99)
    while not stop.is_set():
        article = next(stream)
        article = article.model_copy(update={"id": f"live-{time.monotonic_ns()}"})
        chunks = pipeline.chunk(article, article.content_hash)
        t0 = time.perf_counter()
        vectors = pipeline.embedder.embed([c.text for c in chunks])
        pipeline.index.write([(article, article.content_hash, chunks)], vectors)
        log.append(time.perf_counter() - t0)
        stop.wait(rng.uniform(1.0, 2.0))


def spawn_reader(url: str, prefix: str, data_dir: Path, seconds: float, warm_only: bool = False):  # type: ignore[no-untyped-def]
    cmd = [sys.executable, "-m", "benchmarks.bench_scale", "--role", "reader", "--url", url, "--prefix", prefix,
           "--data-dir", str(data_dir), "--seconds", str(seconds)] + (["--warm-only"] if warm_only else [])
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--role", default="main")
    parser.add_argument("--url")
    parser.add_argument("--prefix")
    parser.add_argument("--data-dir")
    parser.add_argument("--warm-only", action="store_true")
    parser.add_argument("--api-seconds", type=float, default=10.0,
                        help="the API phase (4 clients on a `rag serve` replica, idle then under writes); 0 skips it")
    parser.add_argument("--skip", type=int, default=0)
    parser.add_argument("--have", type=int, default=0)
    parser.add_argument("--cache", default="/tmp/rag-scale-cache",
                        help="filled stores are kept here, one folder per chunk count, and reused")
    args = parser.parse_args()
    if args.role == "reader":
        reader(args)
        return
    if args.role == "fill":
        data = Path(args.data_dir)
        (data / "fill.json").write_text(json.dumps(fill(data, args.skip, args.have, args.chunks)))
        return
    model = LocalMiniLM()
    bank = sentence_bank()
    started = time.monotonic()
    cached, filled = cached_store(Path(args.cache), args.chunks)
    chunks = filled["chunks"]
    with tempfile.TemporaryDirectory(dir=args.cache) as tmp:
        root = Path(tmp)
        shutil.copytree(cached / "data", root / "data")  # the run adds articles: the cache stays as filled
        fill_s = time.monotonic() - started
        server, url = start_chroma(root)
        try:
            prefix = PREFIX
            writer = Pipeline(settings(url, prefix, root / "writer"), embedder=Synthetic(model))
            print(f"{chunks} chunks ready in {fill_s:.0f} s (first fill: {filled.get('fill_s')} s); "
                  "starting a cold reader replica", flush=True)
            proc = spawn_reader(url, prefix, root / "reader", args.seconds)
            assert proc.stdout is not None
            meter = CpuMeter({"server": server.pid, "reader": proc.pid, "writer": os.getpid()})
            for expected in ("IDLE", "WRITES"):
                line = proc.stdout.readline()
                assert line.strip() == expected, line
                meter.mark()
            stop, write_s = threading.Event(), []
            thread = threading.Thread(target=writer_loop, args=(writer, bank, stop, write_s))
            thread.start()
            cold = json.loads(proc.stdout.readline())
            meter.mark()
            cold["cpu_cores"] = {"idle": meter.rates(0), "writes": meter.rates(1)}
            proc.wait()
            stop.set()
            thread.join()
            print("a warm replica (its index file already loaded)", flush=True)
            warm_proc = spawn_reader(url, prefix, root / "reader", 10, warm_only=True)
            assert warm_proc.stdout is not None
            warm = json.loads(warm_proc.stdout.readline())
            warm_proc.wait()
            api = api_phase(url, prefix, root / "reader", writer, bank, args.api_seconds) if args.api_seconds else {}
        finally:
            server.terminate()
            server.wait()
    row = {"chunks": chunks, "articles": filled["articles"], "ready_s": round(fill_s, 1),
           "first_fill_s": filled.get("fill_s"), "seconds": args.seconds, "reader": cold,
           "warm_replica": warm, "api": api, "writes": len(write_s),
           "write_ms": {"p50": pct([w * 1000 for w in write_s], 50)} if write_s else {}}
    print(json.dumps(row, indent=2))
    previous = RESULTS / "scale.json"
    results = json.loads(previous.read_text()) if previous.exists() else {}
    results[str(chunks // 1000 * 1000)] = row
    write("scale", results)


if __name__ == "__main__":
    main()
