"""Ingestion end to end (`rag ingest` as a whole process, imports and model load included) next to
the raw embedder on the same chunk texts in this process, and re-ingesting the unchanged corpus.

Run: .venv/bin/python benchmarks/bench_ingest.py [--chunks 1000]  (writes results/ingest.json)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import RAG, env, write
from benchmarks.corpus import articles, sentence_bank
from rag.config import Settings
from rag.embedding import LocalMiniLM
from rag.pipeline import Pipeline
from rag.tokens import get_encoding


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = LocalMiniLM()
        chunker = Pipeline(Settings(data_dir=Path(tmp) / "unused"), embedder=model)
        texts: list[str] = []
        corpus = Path(tmp) / "corpus.jsonl"
        with corpus.open("w", encoding="utf-8") as f:
            for article in articles(sentence_bank()):
                texts += [c.text for c in chunker.chunk(article)]
                f.write(json.dumps(article.model_dump(exclude_none=True), ensure_ascii=False) + "\n")
                if len(texts) >= args.chunks:
                    break
        tokens = sum(len(t) for t in get_encoding("cl100k_base").encode_batch(texts, disallowed_special=()))
        store = env(RAG_DATA_DIR=str(Path(tmp) / "store"))

        started = time.perf_counter()
        subprocess.run([*RAG, "ingest", str(corpus)], env=store, check=True, capture_output=True)
        process_s = time.perf_counter() - started

        model.embed(["warm up"])
        started = time.perf_counter()
        for i in range(0, len(texts), 64):  # the pipeline's embedding groups
            model.embed(texts[i: i + 64])
        raw_s = time.perf_counter() - started

        started = time.perf_counter()
        again = subprocess.run([*RAG, "ingest", str(corpus)], env=store, check=True, capture_output=True, text=True)
        reingest_s = time.perf_counter() - started
        assert "0 added" in again.stdout + again.stderr or "unchanged" in again.stdout + again.stderr

    result = {
        "chunks": len(texts), "tokens": tokens,
        "process_s": round(process_s, 2), "raw_embedder_s": round(raw_s, 2), "reingest_s": round(reingest_s, 2),
        "chunks_per_s": round(len(texts) / process_s, 1), "tokens_per_s": round(tokens / process_s),
        "raw_chunks_per_s": round(len(texts) / raw_s, 1),
        "efficiency": round(raw_s / process_s, 3),  # target >= 0.9
        "reingest_ratio": round(reingest_s / process_s, 4),  # target <= 0.05
    }
    print(result)
    write("ingest", result)


if __name__ == "__main__":
    main()
