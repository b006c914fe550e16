"""English questions over Russian paragraphs (XQuAD dev half, issue 28): the ranking metrics
(hit@1, hit@5, MRR@10) of dense, lexical and hybrid retrieval at several mixes, from one ingest,
for one local embedder. Ingest speed is timed on the same run (chunks and articles per second).

Run: RAG_EMBED_MODEL=multilingual-e5-small .venv/bin/python -m benchmarks.xquad_sweep \
       [--data ../shared/data/xquad-dev] [--embed-cache out/embed-cache-xquad.sqlite]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from rag.config import Settings
from rag.embedding import CachedEmbedder
from rag.evals.dataset import load_dataset
from rag.evals.metrics import RankedChunk, first_hit_rank
from rag.loaders import load_paths
from rag.pipeline import Pipeline
from rag.retrieval import RetrievalParams

CONFIGS = {
    "dense": RetrievalParams(method="dense"),
    "lexical": RetrievalParams(method="lexical"),
    "rrf": RetrievalParams(method="hybrid", fusion="rrf"),
    **{f"weighted a={a}": RetrievalParams(method="hybrid", alpha=a, cross_lexical=1.0) for a in (0.8, 0.9, 0.95)},
    # the default: a=0.8, the BM25 share of a chunk in another script than the question cut
    **{f"weighted a=0.8 cross={x}": RetrievalParams(method="hybrid", cross_lexical=x) for x in (0.0, 0.05, 0.1, 0.25)},
    "default": None,  # what the pipeline uses for this embedder
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/data/xquad-dev"))
    parser.add_argument("--embed-cache", type=Path)
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS))
    args = parser.parse_args()
    articles = load_paths([args.data / "corpus.jsonl"], 10**7).articles
    texts = {a.id: a.text for a in articles}
    questions = [q for q in load_dataset(args.data / "dataset.jsonl", texts).questions if q.answerable]
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings.model_copy(update={"data_dir": Path(tmp)})
        model = Pipeline(settings).embedder
        pipeline = Pipeline(settings, embedder=CachedEmbedder(model, args.embed_cache) if args.embed_cache else model)
        t0 = time.perf_counter()
        report = pipeline.ingest(articles)
        ingest_s = time.perf_counter() - t0
        chunks = pipeline.store.count_chunks()
        out: dict[str, object] = {"embedder": model.name, "articles": len(articles), "chunks": chunks,
                                  "failed": report.count("failed"), "ingest_s": round(ingest_s, 1),
                                  "chunks_per_s": round(chunks / ingest_s, 2), "cached": bool(args.embed_cache)}
        for name in args.configs:
            ranks = []
            for q in questions:
                found = pipeline.retrieve(q.question, 10, params=CONFIGS[name])  # None: the pipeline's own
                ranks.append(first_hit_rank(q, [RankedChunk(c.article_id, c.start, c.end, c.text) for c in found]))
            out[name] = {"hit_at_1": round(statistics.mean(r == 1 for r in ranks), 3),
                         "hit_at_5": round(statistics.mean(r is not None and r <= 5 for r in ranks), 3),
                         "mrr_at_10": round(statistics.mean(1 / r if r else 0.0 for r in ranks), 3)}
            print(name, out[name], flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
