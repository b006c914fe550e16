"""Fit the recency priors (rag/tuning.py RECENCY_PRIORS, used by rag/timecues.py) on real news:
../shared/data/news-dev, and write them into rag/tuning.py.

Ingests the news-dev corpus once into out/fit-recency (kept between runs), retrieves a deep
candidate list per question with the product's retriever (hybrid, nothing after `as_of`, no
prior), then grid-searches each cue kind's (weight, half-life, window) for MRR@10, re-ranking the
candidates the way rag/retrieval.py does. It reports the fit on all questions and a check across
years (fit on one year's quizzes, score the other's), and the candidate pool each dense depth gives.

Run: python -m rag.fit recency [--data ../shared/data/news-dev] [--dry-run]
Nothing from news-dev is written into the project: only the fitted numbers.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

from rag.config import Settings
from rag.evals.dataset import Question, load_dataset
from rag.evals.metrics import RANK_DEPTH, RankedChunk, first_hit_rank
from rag.fit import command_line, write_fitted
from rag.loaders import load_paths
from rag.pipeline import Filters, Pipeline
from rag.timecues import PRIORS, Kind, Prior, TimeCue, parse_cue

Candidate = tuple[float, date | None, bool, int | None, int | None]  # score, published, hit, dense rank, lexical rank
Row = tuple[Kind, int, TimeCue, list[Candidate]]  # cue kind, as_of year, cue, candidates

WEIGHTS = (0.0, 0.02, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3)
HALF_LIVES = (1.0, 3.0, 7.0, 14.0, 30.0, 90.0)
WINDOWS = (0, 3, 7, 14)
DEEP = 40  # candidates recorded per question
PRODUCTION_DENSE = 10  # what `rag eval` (k = 10) and a top_k <= 10 ask use as the dense pool


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/news-dev"))
    ap.add_argument("--dataset", default="dataset.jsonl")
    ap.add_argument("--store", type=Path, default=Path("out/fit-recency"))
    ap.add_argument("--limit", type=int, default=0, help="Use only the first N questions.")
    ap.add_argument("--dry-run", action="store_true", help="print the rag/tuning.py block instead of writing it")
    args = ap.parse_args(argv)
    if not (args.data / "corpus.jsonl").exists():
        print(f"skipped: {args.data} is absent (news-dev is only on the development machine)")
        return 0
    settings = Settings(data_dir=args.store, chroma_url=None, time_aware=False)
    pipeline = Pipeline(settings)
    loaded = load_paths([args.data / "corpus.jsonl"], settings.max_file_bytes)
    pipeline.ingest(loaded.articles)
    texts = {a.id: a.text for a in loaded.articles}
    questions = load_dataset(args.data / args.dataset, texts).questions
    if args.limit:
        questions = questions[: args.limit]
    rows = candidates(pipeline, questions, texts, args.store / f"candidates-{args.dataset}.pickle")
    fitted = report(rows)
    body = literal(fitted)
    data = f"{args.data} {args.dataset} over corpus.jsonl (hybrid retrieval, weighted fusion, MRR@10 per cue kind)"
    if args.limit:
        data += f", first {args.limit} questions"
    write_fitted("recency", body, command_line("recency", argv if argv is not None else sys.argv[1:]), data,
                 dry_run=args.dry_run)
    return 0


def literal(priors: dict[Kind, Prior]) -> list[str]:
    """`priors` as rag/tuning.py writes them."""
    return ["RECENCY_PRIORS: dict[CueKind, Prior] = {",
            *(f'    "{kind}": Prior({float(p.weight)!r}, {float(p.half_life)!r}, {int(p.window)}),'
              for kind, p in priors.items()),
            "}"]


def candidates(pipeline: Pipeline, questions: list[Question], texts: dict[str, str], cache: Path) -> list[Row]:
    """Per question: (kind, year, cue, [(score, published, hit, dense_rank, lexical_rank)]), cached."""
    key = (len(texts), [q.id for q in questions])
    if cache.exists():
        saved_key, saved = pickle.loads(cache.read_bytes())
        if saved_key == key:
            return list(saved)
    deep = replace(pipeline.retriever.params, dense_pool=DEEP)
    rows: list[Row] = []
    for n, q in enumerate(questions, 1):
        as_of = q.as_of.date() if q.as_of else date.today()
        cue = parse_cue(q.question, as_of)
        chunks = pipeline.retrieve(q.question, DEEP, Filters(until=as_of.isoformat()), deep)
        cands: list[Candidate] = []
        for c in chunks:
            hit = first_hit_rank(q, [RankedChunk(c.article_id, c.start, c.end, c.text)]) == 1
            cands.append((c.score, date.fromisoformat(c.published_at) if c.published_at else None, hit,
                          c.dense_rank, c.lexical_rank))
        rows.append((cue.kind, as_of.year, cue, cands))
        if n % 200 == 0:
            print(f"  retrieved {n}/{len(questions)}", file=sys.stderr)
    cache.write_bytes(pickle.dumps((key, rows)))
    return rows


def report(rows: list[Row]) -> dict[Kind, Prior]:
    """Print the fit and its check across years; return the priors fitted on all questions."""
    print(f"{len(rows)} questions; kinds:", {k: sum(r[0] == k for r in rows) for k in PRIORS})
    for dense in (8, 10, 16, 40):
        print(f"dense pool {dense}: evidence among the candidates for "
              f"{sum(any(h for _, _, h, dr, lr in pool(r[3], dense)) for r in rows) / len(rows):.3f}")
    base = {kind: Prior(0.0, 1.0) for kind in PRIORS}
    print("no prior (as_of filter only):", scores(rows, base, PRODUCTION_DENSE))
    fitted = {kind: fit(rows, kind, PRODUCTION_DENSE) for kind in PRIORS}
    print("fitted on all:", {k: (p.weight, p.half_life, p.window) for k, p in fitted.items()})
    print("  ->", scores(rows, fitted, PRODUCTION_DENSE))
    print("shipped PRIORS:", scores(rows, PRIORS, PRODUCTION_DENSE))
    years = sorted({r[1] for r in rows if sum(x[1] == r[1] for x in rows) > 50})
    for train in years:
        other = [r for r in rows if r[1] != train]
        params = {kind: fit([r for r in rows if r[1] == train], kind, PRODUCTION_DENSE) for kind in PRIORS}
        print(f"fit on {train} {({k: (p.weight, p.half_life, p.window) for k, p in params.items()})}; "
              f"other years: {scores(other, params, PRODUCTION_DENSE)}; "
              f"shipped: {scores(other, PRIORS, PRODUCTION_DENSE)}")
    print(json.dumps({k: [p.weight, p.half_life, p.window] for k, p in fitted.items()}))
    return fitted


def pool(cands: list[Candidate], dense: int) -> list[Candidate]:
    return [c for c in cands if (c[3] is not None and c[3] <= dense) or c[4] is not None]


def ranks(rows: list[Row], priors: dict[Kind, Prior], dense: int) -> list[int | None]:
    out = []
    for kind, _, cue, cands in rows:
        prior = priors[kind]
        c2 = replace(cue, prior=prior, since=cue.since if kind == "date" else
                     date.fromordinal(cue.as_of.toordinal() - prior.window))
        mine = pool(cands, dense)
        c2 = c2.settle([(s, d) for s, d, *_ in mine])
        scored = sorted(((s + c2.bonus(d), h) for s, d, h, *_ in mine), key=lambda x: -x[0])
        out.append(next((i for i, (_, h) in enumerate(scored[:RANK_DEPTH], 1) if h), None))
    return out


def scores(rows: list[Row], priors: dict[Kind, Prior], dense: int) -> dict[str, float]:
    r = ranks(rows, priors, dense)
    n = len(r) or 1
    return {"hit@1": round(sum(x == 1 for x in r) / n, 3),
            "hit@5": round(sum(x is not None and x <= 5 for x in r) / n, 3),
            "mrr@10": round(sum(1 / x for x in r if x) / n, 3)}


def fit(rows: list[Row], kind: Kind, dense: int) -> Prior:
    mine = [r for r in rows if r[0] == kind]
    best, best_mrr = Prior(0.0, 1.0), -1.0
    windows = (0,) if kind == "date" else WINDOWS
    for w, h, win in itertools.product(WEIGHTS, HALF_LIVES, windows):
        p = Prior(w, h, win)
        mrr = scores(mine, {kind: p}, dense)["mrr@10"]
        if mrr > best_mrr + 1e-9:
            best, best_mrr = p, mrr
    return best


if __name__ == "__main__":
    raise SystemExit(main())
