"""The quote-repair eval: does the verifier re-ground paraphrases to the right sentence, and
never re-ground a quote that says something else (negated, changed number or name, invented,
stitched)? evals/datasets/quotes.jsonl holds labelled cases; the repair threshold is chosen here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rag.answering.claims import ClaimParams, Embed
from rag.answering.reply import DraftQuote
from rag.answering.sources import Source
from rag.answering.verify import Checked, QuoteVerifier


@dataclass(frozen=True)
class QuoteCase:
    id: str
    article: str
    quote: str
    expect: str  # "repair" | "drop"
    sentence: str | None
    case: str


@dataclass(frozen=True)
class QuoteOutcome:
    case: QuoteCase
    score: float | None  # best re-grounding score (None: vetoed, stitched or nothing shared)
    shown: str | None  # the text the citation would show at threshold 0


def load_cases(path: Path) -> list[QuoteCase]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [QuoteCase(**json.loads(line)) for line in lines if line.strip()]


def run_cases(cases: Sequence[QuoteCase], texts: dict[str, str], embed: Embed | None,
              params: ClaimParams) -> list[QuoteOutcome]:
    """Each quote cited to its whole article, checked with the threshold at 0 to record its score."""
    outcomes = []
    for case in cases:
        text = texts[case.article]
        source = Source(1, case.article, case.article, None, 0, len(text), text, ())
        verifier = QuoteVerifier([source], {case.article: text}, embed, replace(params, repair=0.0))
        checked: Checked = verifier.check(DraftQuote(1, 1, case.quote))
        span = checked.spans[0] if checked.spans else None
        score = verifier.last_repair_score if span and span.kind == "repaired" else None
        outcomes.append(QuoteOutcome(case, score, text[span.start:span.end] if span else None))
    return outcomes


def metrics_at(outcomes: Sequence[QuoteOutcome], threshold: float) -> dict[str, float | int | None]:
    def repaired(o: QuoteOutcome) -> bool:
        return o.score is not None and o.score >= threshold

    positives = [o for o in outcomes if o.case.expect == "repair"]
    negatives = [o for o in outcomes if o.case.expect == "drop"]
    right = sum(1 for o in positives if repaired(o) and o.shown == o.case.sentence)
    wrong_sentence = sum(1 for o in positives if repaired(o) and o.shown != o.case.sentence)
    false_repairs = sum(1 for o in negatives if repaired(o))
    return {
        "threshold": threshold,
        "repair_recall": round(right / len(positives), 4) if positives else None,
        "wrong_sentence": wrong_sentence,
        "false_repairs": false_repairs,
        "false_repair_rate": round(false_repairs / len(negatives), 4) if negatives else None,
    }
