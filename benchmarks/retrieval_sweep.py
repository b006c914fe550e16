"""Dense vs lexical vs hybrid (weighted at several mixes, RRF), with and without MMR, on every
shipped eval set: the ranking metrics only (hit@1, hit@5, MRR@10), from one ingest.

Run: .venv/bin/python benchmarks/retrieval_sweep.py  (writes benchmarks/results/retrieval_sweep.json)
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

from rag.config import Settings
from rag.evals.dataset import load_dataset
from rag.evals.metrics import RankedChunk, first_hit_rank
from rag.loaders import load_paths
from rag.pipeline import Pipeline
from rag.retrieval import RetrievalParams

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ("seed", "corpus", "lexical", "followups")
CONFIGS = {
    "dense": RetrievalParams(method="dense"),
    "lexical": RetrievalParams(method="lexical"),
    "rrf": RetrievalParams(method="hybrid", fusion="rrf"),
    **{f"weighted a={a}": RetrievalParams(method="hybrid", alpha=a) for a in (0.5, 0.6, 0.7, 0.8, 0.9)},
    **{f"weighted a=0.8 mmr={m}": RetrievalParams(method="hybrid", alpha=0.8, mmr_lambda=m) for m in (0.9, 0.8)},
    "dense mmr=0.9": RetrievalParams(method="dense", mmr_lambda=0.9),
}


def main() -> None:
    articles = load_paths([ROOT / "seeds", ROOT / "evals" / "corpus"], 10**7).articles
    texts = {a.id: a.text for a in articles}
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(Settings(data_dir=Path(tmp)))
        pipeline.ingest(articles)
        sets = {name: [q for q in load_dataset(ROOT / "evals" / "datasets" / f"{name}.jsonl", texts).questions
                       if q.answerable] for name in DATASETS}
        for config, params in CONFIGS.items():
            results[config] = {}
            for name, questions in sets.items():
                ranks = []
                for q in questions:
                    query, _ = pipeline.follow_up(q.question, [("user", h) for h in q.history], "extractive")
                    chunks = pipeline.retrieve(query, 10, params=params)
                    ranks.append(first_hit_rank(q, [RankedChunk(c.article_id, c.start, c.end, c.text)
                                                    for c in chunks]))
                results[config][name] = {
                    "hit_at_1": round(statistics.mean(r == 1 for r in ranks), 4),
                    "hit_at_5": round(statistics.mean(r is not None and r <= 5 for r in ranks), 4),
                    "mrr_at_10": round(statistics.mean(1 / r if r else 0 for r in ranks), 4),
                }
            row = "  ".join(f"{n}: {m['hit_at_1']:.2f}/{m['hit_at_5']:.2f}/{m['mrr_at_10']:.2f}"
                            for n, m in results[config].items())
            print(f"{config:24} {row}", flush=True)
    out = ROOT / "benchmarks" / "results" / "retrieval_sweep.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out} (hit@1/hit@5/MRR@10 per set)")


if __name__ == "__main__":
    main()
