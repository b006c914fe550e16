"""Fit the refusal decision of extractive answers (rag/answering/evidence.py), print its curve and
write the coefficients into rag/tuning.py (REFUSAL_DATED, REFUSAL_UNDATED).

    python -m rag.fit refusal                 # real news from ../shared/data/news-dev + evals/
    python -m rag.fit refusal --dry-run       # print the block instead of writing it
    python -m rag.fit refusal --no-as-of      # retrieve without the as_of cut-off (prints only)

Real news (../shared/data/news-dev, read at run time, never copied) gives the answerable questions
(dataset.jsonl over corpus.jsonl) and the refusal set (dataset-refusal.jsonl over corpus-minus.jsonl);
the project's synthetic sets (evals/datasets: seed, corpus, lexical) join them. Each corpus is ingested
once into a persistent store under --cache and every retrieval is cached there too, so a refit after a
change to the signals takes seconds; delete the cache after a retrieval change.

Until questions carry `as_of` through the pipeline, a real-news question retrieves only articles
published on or before its `as_of` (Filters(until=...)), as a user asking that day would have.

The news-dev questions come from two years (2022, 2024). The model is fitted on one year plus the
synthetic sets and measured on the other, both ways; then fitted on everything, and its coefficients
written to rag/tuning.py. Classes are weighted to equal total weight. The thresholds are chosen from
the printed curves and kept as they are in rag/tuning.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag import tuning
from rag.answering import evidence
from rag.answering.extractive import Params
from rag.config import Settings
from rag.evals.dataset import load_dataset
from rag.evals.metrics import RANK_DEPTH, fact_recall
from rag.fit import ROOT, command_line, write_fitted
from rag.loaders import load_paths
from rag.pipeline import Pipeline
from rag.types import Filters, RetrievedChunk

SYNTHETIC_CORPUS = [ROOT / "seeds", ROOT / "evals" / "corpus"]


@dataclass
class Row:
    set: str            # news, news-refusal, seed, corpus, lexical
    year: str           # as_of year for news, "" for synthetic
    id: str
    answerable: bool
    literal: bool       # the answer string occurs in the evidence (answer recall measurable)
    x: np.ndarray | None  # signals; None: refused before any evidence was weighed
    recall: float | None  # answer recall when answered (None: not measurable)
    wanted: str | None
    hand: bool = False    # the hand-set rule refuses it when it has no date


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--news", type=Path, default=ROOT.parent / "shared" / "data" / "news-dev")
    ap.add_argument("--cache", type=Path, default=ROOT / ".rag-fit")
    ap.add_argument("--no-as-of", action="store_true", help="retrieve without the as_of cut-off")
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--synthetic-weight", type=float, default=5.0,
                    help="weight of a synthetic question against a real-news one (they are few)")
    ap.add_argument("--dry-run", action="store_true", help="print the rag/tuning.py block instead of writing it")
    args = ap.parse_args(argv)
    if not (args.news / "dataset.jsonl").exists():
        print(f"skipped: no real-news dev data at {args.news}")
        return 0
    global SYNTHETIC_WEIGHT
    SYNTHETIC_WEIGHT = args.synthetic_weight
    rows = collect(args)
    models = {}
    if not args.no_as_of:
        models["REFUSAL_DATED"] = report(rows, args.l2, dated=True)
    models["REFUSAL_UNDATED"] = report(rows, args.l2, dated=False)
    if args.no_as_of:
        print("\n--no-as-of fits only the undated model: nothing written", file=sys.stderr)
        return 0
    data = (f"{args.news} dataset.jsonl over corpus.jsonl and dataset-refusal.jsonl over corpus-minus.jsonl;\n"
            "#   evals/datasets seed, corpus, lexical over seeds + evals/corpus")
    write_fitted("refusal", [line for name, model in models.items() for line in literal(name, model)],
                 command_line("refusal", argv if argv is not None else sys.argv[1:]), data, dry_run=args.dry_run)
    return 0


def literal(name: str, model: tuning.Logistic) -> list[str]:
    """`model` as rag/tuning.py writes it: intercept, coefficients in FEATURES order, threshold."""
    coefficients = ", ".join(repr(float(c)) for c in model.coefficients)  # floats: a reason prints "< 0.0"
    return [f"{name} = Logistic(", f"    {float(model.intercept)!r}, ({coefficients}), {float(model.threshold)!r})"]


def collect(args: argparse.Namespace) -> list[Row]:
    news = args.news
    literal_ids = {json.loads(line)["id"] for line in (news / "dataset-literal.jsonl").open(encoding="utf-8")}
    sets = [
        ("news", [news / "corpus.jsonl"], news / "dataset.jsonl"),
        ("news-refusal", [news / "corpus-minus.jsonl"], news / "dataset-refusal.jsonl"),
        ("seed", SYNTHETIC_CORPUS, ROOT / "evals" / "datasets" / "seed.jsonl"),
        ("corpus", SYNTHETIC_CORPUS, ROOT / "evals" / "datasets" / "corpus.jsonl"),
        ("lexical", SYNTHETIC_CORPUS, ROOT / "evals" / "datasets" / "lexical.jsonl"),
    ]
    rows: list[Row] = []
    for name, corpus, dataset_path in sets:
        store = {"news": "news", "news-refusal": "news-minus"}.get(name, "synthetic")
        settings = Settings().model_copy(update={"data_dir": args.cache / store, "chroma_url": None})
        pipeline = Pipeline(settings)
        loaded = load_paths(corpus, settings.max_file_bytes)
        texts = {a.id: a.text for a in loaded.articles}
        dataset = load_dataset(dataset_path, texts)
        as_of = {r["id"]: r.get("as_of") for r in map(json.loads, dataset_path.open(encoding="utf-8"))}
        tag = "all" if args.no_as_of else "asof"
        cache_file = args.cache / f"retrieved-{name}-{tag}.json"
        if cache_file.exists():
            cached = json.loads(cache_file.read_text(encoding="utf-8"))
        else:
            print(f"{name}: ingesting {len(loaded.articles)} articles", file=sys.stderr)
            pipeline.ingest(loaded.articles, loaded.errors)
            cached = {}
            for q in dataset.questions:
                until = None if args.no_as_of else as_of.get(q.id)
                found = pipeline.retrieve(q.question, max(settings.top_k, RANK_DEPTH), Filters(until=until))
                cached[q.id] = [c.model_dump() for c in found]
            cache_file.write_text(json.dumps(cached), encoding="utf-8")
        pipeline.params = Params(min_evidence=0.0)  # never refused by the model: every answer is measured
        for q in dataset.questions:
            chunks = [RetrievedChunk(**c) for c in cached[q.id]][: settings.top_k]
            result = pipeline.extract(q.question, chunks, None if args.no_as_of else as_of.get(q.id))
            answer = " ".join(s.text for s in result.sentences)
            x = np.array(result.assessment.signals.vector()) if result.assessment else None
            rows.append(Row(name, (as_of.get(q.id) or "")[:4], q.id, q.answerable,
                            q.id in literal_ids if name == "news" else bool(q.answers),
                            x, fact_recall(q, answer) if not result.refused else None, result.wanted,
                            bool(result.assessment and result.assessment.hand_rule)))
    return rows


# --- the model -----------------------------------------------------------------------------------

def fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float,
        balanced: bool = True) -> tuple[float, np.ndarray]:
    """L2-regularised logistic regression on standardised features (Newton steps), classes weighted
    to equal total weight when `balanced` (else the probabilities stay calibrated to the data);
    returned on the raw scale: (intercept, coefficients)."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mu) / sd])
    positive = (weight * y).sum() / weight.sum()
    w_class = weight * np.where(y == 1, 0.5 / positive, 0.5 / (1 - positive)) * len(y) / weight.sum() \
        if balanced else weight
    beta = np.zeros(z.shape[1])
    reg = np.eye(z.shape[1]) * l2
    reg[0, 0] = 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-z @ beta))
        grad = z.T @ (w_class * (p - y)) + reg @ beta
        hess = (z * (w_class * p * (1 - p))[:, None]).T @ z + reg
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    coef = beta[1:] / sd
    return float(beta[0] - (coef * mu).sum()), coef


def predict(rows: list[Row], intercept: float, coef: np.ndarray) -> np.ndarray:
    """P(answerable); 0 for a question refused before the model (no signals, or the hand rule)."""
    return np.array([0.0 if r.x is None or r.hand else 1 / (1 + np.exp(-(intercept + r.x @ coef))) for r in rows])


SYNTHETIC_WEIGHT = 5.0


def training(rows: list[Row]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    usable = [r for r in rows if r.x is not None]
    return (np.array([r.x for r in usable]), np.array([float(r.answerable) for r in usable]),
            np.array([1.0 if r.set.startswith("news") else SYNTHETIC_WEIGHT for r in usable]))


THRESHOLDS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)


def measures(rows: list[Row], p: np.ndarray, t: float) -> dict[str, float | None]:
    refused = p < t
    ans = [i for i, r in enumerate(rows) if r.answerable]
    unans = [i for i, r in enumerate(rows) if not r.answerable]
    lit = [i for i in ans if rows[i].literal]
    refused_idx = [i for i in range(len(rows)) if refused[i]]

    def mean(v: list[float]) -> float | None:
        return round(float(np.mean(v)), 3) if v else None

    return {
        "false_refusal_rate": mean([refused[i] for i in ans]),
        "refusal_recall": mean([refused[i] for i in unans]),
        "refusal_precision": mean([not rows[i].answerable for i in refused_idx]),
        "answer_recall": mean([0.0 if refused[i] else (rows[i].recall or 0.0) for i in lit]),
    }


def table(title: str, groups: dict[str, tuple[list[Row], np.ndarray]]) -> None:
    print(f"\n{title}\n")
    print("| threshold | " + " | ".join(f"{g}: false refusals / refusal recall / precision / answer recall"
                                       for g in groups) + " |")
    print("|---|" + "---|" * len(groups))
    for t in THRESHOLDS:
        cells = []
        for rows, p in groups.values():
            m = measures(rows, p, t)
            cells.append(" / ".join("–" if v is None else f"{v:.2f}" for v in m.values()))
        print(f"| {t:.2f} | " + " | ".join(cells) + " |")


def auc(rows: list[Row], p: np.ndarray) -> float:
    pos = p[[r.answerable for r in rows]]
    neg = p[[not r.answerable for r in rows]]
    if not len(pos) or not len(neg):
        return float("nan")
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def undated(rows: list[Row]) -> list[Row]:
    """The rows as a question without a date sees them: no staleness signal."""
    stale = evidence.FEATURES.index("stale")
    out = []
    for r in rows:
        x = None if r.x is None else r.x.copy()
        if x is not None:
            x[stale] = 0.0
        out.append(Row(r.set, r.year, r.id, r.answerable, r.literal, x, r.recall, r.wanted, r.hand))
    return out


def report(rows: list[Row], l2: float, dated: bool) -> tuning.Logistic:
    """Print the held-out and in-sample curves; return the model fitted on everything, with the
    threshold rag/tuning.py has now."""
    if not dated:
        rows = undated(rows)
    else:  # the hand-set rule applies only without a date
        rows = [Row(r.set, r.year, r.id, r.answerable, r.literal, r.x, r.recall, r.wanted) for r in rows]
    name = "DATED" if dated else "UNDATED"
    print(f"\n## {name}: questions {'with' if dated else 'without'} a known date (as_of)")
    synthetic = [r for r in rows if r.set in ("seed", "corpus", "lexical")]
    years = sorted({r.year for r in rows if r.set.startswith("news") and r.year in ("2022", "2024")})
    print("features:", ", ".join(evidence.FEATURES))
    for held in years:
        train = [r for r in rows if r.set.startswith("news") and r.year != held] + synthetic
        intercept, coef = fit(*training(train), l2)
        test_news = [r for r in rows if r.set == "news" and r.year == held]
        test_ref = [r for r in rows if r.set == "news-refusal" and r.year == held]
        print(f"\nheld out {held}: AUC on its refusal set {auc(test_ref, predict(test_ref, intercept, coef)):.3f}")
        table(f"Fitted without {held}, measured on {held} (news answerable | news refusal set):", {
            f"news {held}": (test_news, predict(test_news, intercept, coef)),
            f"refusal {held}": (test_ref, predict(test_ref, intercept, coef)),
        })
    intercept, coef = fit(*training(rows), l2)
    news = [r for r in rows if r.set == "news"]
    ref = [r for r in rows if r.set == "news-refusal"]
    groups = {"news": (news, predict(news, intercept, coef)), "refusal": (ref, predict(ref, intercept, coef))}
    for part_name in ("seed", "corpus", "lexical"):
        part = [r for r in synthetic if r.set == part_name]
        groups[part_name] = (part, predict(part, intercept, coef))
    table("Fitted on everything (in-sample):", groups)
    shipped: tuning.Logistic = getattr(tuning, f"REFUSAL_{name}")
    fitted = tuning.Logistic(round(intercept, 3), tuple(round(float(c), 3) for c in coef), shipped.threshold)
    print(f"\nfitted: REFUSAL_{name} = {fitted!r} (threshold kept: {shipped.threshold})")
    current = predict(rows, shipped.intercept, np.array(shipped.coefficients))
    table("The shipped coefficients, all data:", {
        "news": (news, current[[r.set == "news" for r in rows]]),
        "refusal": (ref, current[[r.set == "news-refusal" for r in rows]]),
        **{part: ([r for r in rows if r.set == part], current[[r.set == part for r in rows]])
           for part in ("seed", "corpus", "lexical")},
    })
    return fitted


if __name__ == "__main__":
    raise SystemExit(main())
