"""What should a numbered source in the LLM prompt be? Measures, for each choice, how much of each
question's evidence the prompt contains (the model cannot quote what it is not shown) and what
the prompt costs in tokens. No LLM needed: this is about what the model gets to see.

Run: .venv/bin/python benchmarks/llm_sources.py  (writes benchmarks/results/llm_sources.json)
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

from rag.answering.sources import build_sources
from rag.config import Settings
from rag.evals.dataset import load_dataset
from rag.loaders import load_paths
from rag.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent
# name: (chunks retrieved, articles up to this many tokens sent whole, token budget)
STRATEGIES = {
    "5 chunks": (5, 0, 10**6),
    "8 chunks": (8, 0, 10**6),
    "8 chunks, short articles whole (default)": (8, 1500, 3000),
    "8 chunks, articles whole, no budget": (8, 10**6, 10**6),
}


def main() -> None:
    articles = load_paths([ROOT / "seeds", ROOT / "evals" / "corpus"], 10**7).articles
    texts = {a.id: a.text for a in articles}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(Settings(data_dir=Path(tmp)))
        pipeline.ingest(articles)
        count = pipeline._count_tokens
        questions = [q for name in ("seed", "corpus")
                     for q in load_dataset(ROOT / "evals" / "datasets" / f"{name}.jsonl", texts).questions
                     if q.answerable and q.spans]
        for name, (k, whole, budget) in STRATEGIES.items():
            covered, complete, tokens = [], [], []
            for q in questions:
                chunks = pipeline.retrieve(q.question, k)
                sources = build_sources(chunks, texts.get, lambda t: count([t])[0], budget, whole)
                inside = [any(s.article_id == src.article_id and src.start <= s.start and s.end <= src.end
                              for s in group for src in sources) for group in q.spans]
                covered.append(sum(inside) / len(inside))
                complete.append(all(inside))
                tokens.append(sum(count([s.text])[0] for s in sources))
            results[name] = {
                "evidence_in_prompt": round(statistics.mean(covered), 4),
                "all_evidence_in_prompt": round(statistics.mean(complete), 4),
                "prompt_tokens_p50": statistics.median(tokens),
                "prompt_tokens_max": max(tokens),
            }
            print(f"{name:45} {results[name]}")
    out = ROOT / "benchmarks" / "results" / "llm_sources.json"
    out.write_text(json.dumps({"questions": len(questions), "strategies": results}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
