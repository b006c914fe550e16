"""Fit the answer confidence (rag/answering/confidence.py), report its calibration and the
right / wrong-shown / refused curve, and write the model into rag/tuning.py (CONFIDENCE).

    python -m rag.fit confidence              # real news from ../shared/data/news-dev + evals/
    python -m rag.fit confidence --dry-run    # print the block instead of writing it

Questions are asked as users ask them (`Pipeline.ask_stream`'s retrieval: the as_of cut-off and
time cue, top_k chunks), and answered extractively with nothing refused by confidence, so every
answer is measured. The label is what users see: the answer holds the expected fact (answer
recall >= 0.5: news-dev's literal set over corpus.jsonl, the refusal set's answerable half), or
it answers an unanswerable question (the refusal set's other half over corpus-minus.jsonl: always
wrong). The synthetic sets (evals/datasets seed, corpus, lexical) join, undated. Refusals that
weigh no evidence (no number for "how many") stay refusals and are left out.

The news-dev questions come from two years (2022, 2024): fitted on one (plus the synthetic sets)
and scored on the other, both ways, with a reliability table (10 bins) and the Brier score; then
fitted on everything and written. Unweighted, so the probability is calibrated to the data. Each
corpus is ingested once into --cache and every retrieval is cached there too.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag import tuning
from rag.answering.confidence import FEATURES
from rag.answering.context import When
from rag.answering.selection import Params
from rag.config import Settings
from rag.evals.dataset import load_dataset
from rag.evals.metrics import fact_recall
from rag.fit import ROOT, command_line, write_fitted
from rag.fit.refusal import fit, literal
from rag.loaders import load_paths
from rag.pipeline import Pipeline
from rag.timecues import bounds_event
from rag.types import Filters, RetrievedChunk

SYNTHETIC = [ROOT / "seeds", ROOT / "evals" / "corpus"]
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
HELD_OUT = ("2022", "2024")


@dataclass
class Row:
    set: str              # literal, refusal, seed, corpus, lexical
    year: str             # the as_of year for news, "" for synthetic
    answerable: bool
    x: np.ndarray | None  # confidence features; None: refused before any evidence was weighed
    right: float | None   # 1: the shown answer holds the fact; 0: it does not, or it answers the unanswerable


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--news", type=Path, default=ROOT.parent / "shared" / "data" / "news-dev")
    ap.add_argument("--cache", type=Path, default=ROOT / ".rag-fit")
    ap.add_argument("--l2", type=float, default=10.0)
    ap.add_argument("--dry-run", action="store_true", help="print the rag/tuning.py block instead of writing it")
    args = ap.parse_args(argv)
    if not (args.news / "dataset-literal.jsonl").exists():
        print(f"skipped: no real-news dev data at {args.news}")
        return 0
    rows = collect(args.news, args.cache)
    for held in HELD_OUT:
        train = [r for r in rows if r.year != held]
        model = train_model(train, args.l2)
        report(f"fitted without {held}, scored on {held}", [r for r in rows if r.year == held], model)
    model = train_model(rows, args.l2)
    report("fitted on everything (in-sample)", rows, model)
    data = (f"{args.news} dataset-literal.jsonl over corpus.jsonl and dataset-refusal.jsonl over\n"
            f"#   corpus-minus.jsonl; evals/datasets seed, corpus, lexical over seeds + evals/corpus (L2 {args.l2:g})")
    write_fitted("confidence", literal("CONFIDENCE", model),
                 command_line("confidence", argv if argv is not None else sys.argv[1:]), data, dry_run=args.dry_run)
    return 0


def collect(news: Path, cache: Path) -> list[Row]:
    sets = [("literal", [news / "corpus.jsonl"], news / "dataset-literal.jsonl"),
            ("refusal", [news / "corpus-minus.jsonl"], news / "dataset-refusal.jsonl"),
            *((name, SYNTHETIC, ROOT / "evals" / "datasets" / f"{name}.jsonl")
              for name in ("seed", "corpus", "lexical"))]
    rows: list[Row] = []
    for name, corpus, dataset_path in sets:
        store = {"literal": "news", "refusal": "news-minus"}.get(name, "synthetic")
        settings = Settings().model_copy(update={"data_dir": cache / store, "chroma_url": None})
        pipeline = Pipeline(settings, params=Params(min_evidence=0.0))  # nothing refused by confidence
        loaded = load_paths(corpus, settings.max_file_bytes)
        dataset = load_dataset(dataset_path, {a.id: a.text for a in loaded.articles})
        cache_file = cache / f"asked-{name}.json"
        if cache_file.exists():
            asked = json.loads(cache_file.read_text(encoding="utf-8"))
        else:
            print(f"{name}: ingesting {len(loaded.articles)} articles", file=sys.stderr)
            pipeline.ingest(loaded.articles, loaded.errors)
            asked = {}
            for q in dataset.questions:  # retrieval as Pipeline.ask_stream does it
                cue = pipeline.time_cue(q.question, q.as_of)
                chunks = pipeline._retrieve(q.question, settings.top_k, Filters(), None, cue, q.as_of is not None)
                asked[q.id] = {"chunks": [c.model_dump() for c in chunks],
                               "day": cue.as_of.isoformat() if cue else None,
                               "dated": q.as_of is not None and cue is not None and bounds_event(q.question),
                               "plain": q.as_of is not None and cue is not None and cue.kind == "none"}
            cache_file.write_text(json.dumps(asked), encoding="utf-8")
        for q in dataset.questions:
            record = asked[q.id]
            chunks = [RetrievedChunk(**c) for c in record["chunks"]]
            when = When.of(record["day"], record["dated"], record["plain"])
            found = pipeline.answer_context(q.question, chunks, when=when).found
            x = np.array(found.features) if found.features and not found.refused else None
            recall = fact_recall(q, " ".join(s.text for s in found.sentences)) if x is not None else None
            right = (float(recall >= 0.5) if recall is not None else None) if q.answerable else 0.0
            rows.append(Row(name, (record["day"] or "")[:4] if q.as_of else "", q.answerable, x, right))
    return rows


def train_model(rows: list[Row], l2: float) -> tuning.Logistic:
    usable = [r for r in rows if r.x is not None and r.right is not None]
    x = np.array([r.x for r in usable])
    y = np.array([r.right for r in usable])
    intercept, coef = fit(x, y, np.ones(len(y)), l2, balanced=False)
    return tuning.Logistic(round(intercept, 3), tuple(round(float(c), 3) for c in coef), tuning.MIN_CONFIDENCE)


def predict(rows: list[Row], model: tuning.Logistic) -> np.ndarray:
    coef = np.array(model.coefficients)
    return np.array([0.0 if r.x is None else 1 / (1 + np.exp(-(model.intercept + r.x @ coef))) for r in rows])


def report(title: str, rows: list[Row], model: tuning.Logistic) -> None:
    p = predict(rows, model)
    print(f"\n## {title}\n")
    print("| threshold | literal: right / wrong shown / refused | refusal set: refusal recall / shown precision |")
    print("|---|---|---|")
    for t in THRESHOLDS:
        print(f"| {t:.2f} | {_users(rows, p, t, 'literal')} | {_refusals(rows, p, t)} |")
    scored = [(pi, r.right) for pi, r in zip(p, rows, strict=True) if r.x is not None and r.right is not None]
    if not scored:
        return
    probs, labels = np.array([s[0] for s in scored]), np.array([s[1] for s in scored])
    print(f"\nBrier score {float(((probs - labels) ** 2).mean()):.4f} over {len(scored)} shown answers")
    print("\n| confidence | answers | mean confidence | right |")
    print("|---|---|---|---|")
    for b in range(10):
        lo, hi = b / 10, (b + 1) / 10
        sel = (probs >= lo) & ((probs < hi) if b < 9 else (probs <= hi))
        if sel.any():
            print(f"| {lo:.1f}-{hi:.1f} | {int(sel.sum())} | {probs[sel].mean():.3f} | {labels[sel].mean():.3f} |")


def _users(rows: list[Row], p: np.ndarray, t: float, name: str) -> str:
    part = [(pi, r) for pi, r in zip(p, rows, strict=True) if r.set == name and r.answerable
            and (r.right is not None or r.x is None)]
    if not part:
        return "–"
    right = sum(pi >= t and r.right == 1 for pi, r in part) / len(part)
    refused = sum(r.x is None or pi < t for pi, r in part) / len(part)
    return f"{right:.3f} / {1 - right - refused:.3f} / {refused:.3f}"


def _refusals(rows: list[Row], p: np.ndarray, t: float) -> str:
    part = [(pi, r) for pi, r in zip(p, rows, strict=True) if r.set == "refusal"]
    unanswerable = [pi for pi, r in part if not r.answerable]
    shown = [(pi, r) for pi, r in part if r.x is not None and pi >= t and r.right is not None]
    if not unanswerable or not shown:
        return "–"
    recall = sum(pi < t for pi in unanswerable) / len(unanswerable)
    precision = sum(r.right == 1 for _, r in shown) / len(shown)
    return f"{recall:.3f} / {precision:.3f}"


__all__ = ["FEATURES", "main"]
