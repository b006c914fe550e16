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


def import_cost(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/news-dev"))
    args = ap.parse_args()
    qs = questions(args.limit, args.data)
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
