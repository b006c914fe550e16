"""Query latency as the corpus grows: retrieval (dense, hybrid) and extractive answers, p50/p95,
next to the raw floor (embed the question + one Chroma vector query) at the same size.

Stores are filled through the real write path (ChunkIndex.write: Chroma and the lexical index),
but chunk vectors are the mean of their sentences' vectors, each distinct sentence embedded
once: 100k chunks in minutes instead of hours. The model's cost is measured in bench_ingest.

Run: .venv/bin/python -m benchmarks.bench_query [--sizes 1000 10000 100000]  (writes results/query.json)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, summary_ms, write
from benchmarks.corpus import articles, questions, sentence_bank
from rag.config import Settings
from rag.embedding import LocalMiniLM
from rag.pipeline import Pipeline
from rag.sentences import split_sentences


def build(pipeline: Pipeline, size: int, bank: list[str], vectors: dict[str, np.ndarray]) -> int:
    group, count = [], 0
    for article in articles(bank):
        chunks = pipeline.chunk(article, article.content_hash)
        group.append((article, article.content_hash, chunks))
        count += len(chunks)
        if sum(len(g[2]) for g in group) >= 2000 or count >= size:
            rows = [c for _, _, cs in group for c in cs]
            matrix = np.stack([_chunk_vector(c.text, vectors) for c in rows])
            pipeline.index.write(group, matrix)
            group = []
        if count >= size:
            return count
    raise AssertionError("unreachable")


def _chunk_vector(text: str, vectors: dict[str, np.ndarray]) -> np.ndarray:
    parts = [vectors[text[s:e]] for s, e in split_sentences(text) if text[s:e] in vectors]
    v = np.mean(parts, axis=0) if parts else next(iter(vectors.values()))
    return (v / np.linalg.norm(v)).astype(np.float32)


def timed(fn, items) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - started)
    return out


def measure(pipeline: Pipeline, model: LocalMiniLM, asked: list[str]) -> dict[str, dict[str, float]]:
    dense = replace(pipeline.retriever.params, method="dense")
    for q in asked[:10]:  # warm caches and the lexical index
        pipeline.ask(q, mode="extractive")

    def floor(q: str) -> None:
        pipeline.store.chunks.query(query_embeddings=[model.embed([q])[0]], n_results=8,
                                    include=["documents", "metadatas", "distances"])

    return {
        "floor_embed_plus_query": summary_ms(timed(floor, asked)),
        "retrieval_dense": summary_ms(timed(lambda q: pipeline.retrieve(q, 8, params=dense), asked)),
        "retrieval_hybrid": summary_ms(timed(lambda q: pipeline.retrieve(q, 8), asked)),
        "answer_extractive": summary_ms(timed(lambda q: pipeline.ask(q, mode="extractive"), asked)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    model = LocalMiniLM()
    bank = sentence_bank()
    started = time.perf_counter()
    vectors = dict(zip(bank, model.embed(bank), strict=True))
    print(f"embedded {len(bank)} bank sentences in {time.perf_counter() - started:.1f} s", flush=True)
    asked = questions(bank, args.questions)
    previous = RESULTS / "query.json"  # other sizes measured earlier stay in the file
    results = json.loads(previous.read_text()) if previous.exists() else {}
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            pipeline = Pipeline(Settings(data_dir=Path(tmp)), embedder=model)
            started = time.perf_counter()
            chunks = build(pipeline, size, bank, vectors)
            build_s = time.perf_counter() - started
            row = {"chunks": chunks, "build_s": round(build_s, 1), **measure(pipeline, model, asked)}
            results[str(size)] = row
            print(size, {k: v if not isinstance(v, dict) else (v["p50_ms"], v["p95_ms"]) for k, v in row.items()},
                  flush=True)
    write("query", dict(sorted(results.items(), key=lambda kv: int(kv[0]))))


if __name__ == "__main__":
    main()
