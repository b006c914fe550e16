"""Ingestion and query speed on seeds/ + evals/corpus, next to the raw embedder on the same texts.

Run: .venv/bin/python benchmarks/bench_basic.py  (writes benchmarks/results/basic.json)
Timed here, never asserted in tests.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from rag.config import Settings
from rag.embedding import LocalMiniLM
from rag.evals.dataset import load_dataset
from rag.loaders import load_paths
from rag.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    articles = load_paths([ROOT / "seeds", ROOT / "evals" / "corpus"], 10**7).articles
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(Settings(data_dir=Path(tmp)))
        pipeline.embedder.embed(["warm up"])
        t0 = time.perf_counter()
        pipeline.ingest(articles)
        ingest_s = time.perf_counter() - t0
        chunk_texts = [c.text for a in articles for c in pipeline.chunk(a)]
        raw = LocalMiniLM()
        raw.embed(["warm up"])
        t0 = time.perf_counter()
        raw.embed(chunk_texts)
        raw_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pipeline.ingest(articles)
        reingest_s = time.perf_counter() - t0

        texts = {a.id: a.text for a in articles}
        questions = [q.question for q in load_dataset(ROOT / "evals/datasets/seed.jsonl", texts).questions]
        retrieval, answer = [], []
        for question in questions * 3:
            t0 = time.perf_counter()
            chunks = pipeline.retrieve(question, 8)
            t1 = time.perf_counter()
            pipeline.answer_from(question, chunks)
            t2 = time.perf_counter()
            retrieval.append((t1 - t0) * 1000)
            answer.append((t2 - t0) * 1000)

    result = {
        "articles": len(articles),
        "chunks": len(chunk_texts),
        "ingest_s": round(ingest_s, 3),
        "raw_embed_s": round(raw_s, 3),
        "ingest_efficiency": round(raw_s / ingest_s, 3),
        "chunks_per_s": round(len(chunk_texts) / ingest_s, 1),
        "reingest_s": round(reingest_s, 4),
        "reingest_ratio": round(reingest_s / ingest_s, 4),
        "retrieval_p50_ms": round(statistics.median(retrieval), 2),
        "retrieval_p95_ms": round(statistics.quantiles(retrieval, n=20)[18], 2),
        "answer_p50_ms": round(statistics.median(answer), 2),
        "answer_p95_ms": round(statistics.quantiles(answer, n=20)[18], 2),
    }
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "basic.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
