"""Time-cue parsing: the regex grammar (rag/timecues.py) against dateparser's search_dates.

Times both per question (p50/p95) and their import cost, and counts what each finds: questions
with a cue, and dates found that are not time cues (e.g. "new", "now" or "may" read as dates).
Questions: ../shared/data/news-dev/dataset.jsonl when present (only numbers are printed), else
the project's own eval questions.

Run: .venv/bin/python -m benchmarks.bench_timecues [--limit 300]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

from benchmarks.common import summary_ms


def questions(limit: int, data: Path) -> list[tuple[str, date]]:
    news = data / "dataset.jsonl"
    files = [news] if news.exists() else sorted(Path("evals/datasets").glob("*.jsonl"))
    out = []
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if "question" in r:
                out.append((r["question"], date.fromisoformat(r["as_of"][:10]) if r.get("as_of") else date.today()))
    return out[:limit]


def retrieval(store: Path, qs: list[tuple[str, date]]) -> None:
    """Retrieval after the question is embedded (the embedding is the same either way), with the
    cue parsed and applied and the as_of filter on, against neither; interleaved."""
    from rag.config import Settings
    from rag.pipeline import Filters, Pipeline
    from rag.timecues import parse_cue

    pipeline = Pipeline(Settings(data_dir=store))
    vectors = pipeline.embedder.embed([q for q, _ in qs])
    retriever = pipeline.retriever

    def aware(q: str, v, as_of: date) -> None:  # type: ignore[no-untyped-def]
        cue = parse_cue(q, as_of)
        retriever.retrieve(q, v, 8, Filters(until=as_of.isoformat()), None, cue)

    def off(q: str, v, as_of: date) -> None:  # type: ignore[no-untyped-def]
        retriever.retrieve(q, v, 8)

    times: dict[str, list[float]] = {"time-aware": [], "off": []}
    for rep in range(2):  # the first pass warms both
        for (q, as_of), v in zip(qs, vectors, strict=True):
            for name, run in (("time-aware", aware), ("off", off)):
                t = time.perf_counter()
                run(q, v, as_of)
                if rep:
                    times[name].append(time.perf_counter() - t)
    for name, values in times.items():
        print(f"retrieval k=8 after embedding, {name}: {summary_ms(values)}")


def import_cost(module: str) -> float:
    code = f"import time; t = time.process_time(); import {module}; print(time.process_time() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/news-dev"))
    ap.add_argument("--store", type=Path, help="An ingested RAG_DATA_DIR: also time retrieval with and "
                                               "without time-awareness, interleaved (e.g. out/fit-recency)")
    args = ap.parse_args()
    qs = questions(args.limit, args.data)
    if args.store:
        retrieval(args.store, qs)
    from rag.timecues import parse_cue

    grammar = []
    found = 0
    for q, as_of in qs:
        t = time.perf_counter()
        cue = parse_cue(q, as_of)
        grammar.append(time.perf_counter() - t)
        found += cue.kind != "none"
    print(f"{len(qs)} questions")
    print(f"grammar: import {import_cost('rag.timecues') * 1000:.1f} ms; per question {summary_ms(grammar)}; "
          f"questions with a cue: {found}")
    try:
        from dateparser.search import search_dates
    except ImportError:
        print("dateparser is not installed")
        return
    spans, per, with_dates, spurious = [], [], 0, 0
    for q, as_of in qs:
        t = time.perf_counter()
        base = datetime.combine(as_of, datetime.min.time())
        hits = search_dates(q, languages=["en"], settings={"RELATIVE_BASE": base, "PREFER_DATES_FROM": "past"}) or []
        per.append(time.perf_counter() - t)
        with_dates += bool(hits)
        spurious += sum(1 for text, _ in hits if text.lower().strip() in {"new", "now", "may", "today", "the week",
                                                                         "second", "first", "one", "a"})
        spans.extend(text for text, _ in hits)
    print(f"dateparser.search_dates: import {import_cost('dateparser.search') * 1000:.1f} ms; per question "
          f"{summary_ms(per)}; questions with a date: {with_dates}; single-word matches that are not dates: {spurious}")
    print("dateparser's most common matches:", sorted(set(spans), key=spans.count, reverse=True)[:15])


if __name__ == "__main__":
    main()
