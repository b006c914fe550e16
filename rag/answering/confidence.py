"""How sure an answer is: a calibrated probability that the shown answer is right.

The evidence model (evidence.py) asks "does the retrieved evidence answer this question?". A
shown answer can still be wrong with good evidence at hand (the answer quotes the neighbouring
story, or a sentence that lacks the asked-for name), so confidence is fitted on what users see:
whether the answer holds the expected fact (news-dev's literal set, its refusal set, where any
answer to an unanswerable question is wrong, and the project's synthetic sets). Its features are
the evidence signals plus what only the chosen answer shows:
- how old the evidence is against the day the asker gave (`as_of`): for a question that bounds
  its event to the days before it ("this week"), as log-days (the evidence signals say "more than
  a week"); for a
  question that names no time at all, whether it is more than two months older (news is asked
  about what is new; "latest"/"now" questions and named periods are left alone: old evidence
  still answers them, with an "as of" notice);
- whether the answer holds the thing the question asks for (checks.py: a count, a duration, a
  date, a person, a reason, the items);
- the share of the question's rarity-weighted terms in the answer, the names it adds, and
  whether its article is retrieval's best.
A logistic model (`python -m rag.fit confidence` writes it into rag/tuning.py) turns them into a
probability; an answer below RAG_MIN_CONFIDENCE is refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import date

from rag import tuning
from rag.answering import checks
from rag.answering.evidence import Assessment, coverage, rarity
from rag.terms import STOP_WORDS, content_terms, words
from rag.types import RetrievedChunk


@dataclass(frozen=True)
class AnswerSignals:
    """What the chosen answer shows beyond the evidence signals (evidence.Signals)."""

    log_age: float          # log(1 + days the evidence is older than as_of), for a bounded question; else 0
    older_than_months: float  # more than PLAIN_STALE_DAYS older, for a question that names no time
    holds_expected: float   # the answer holds the thing the question asks for (1 when nothing is asked)
    hand_rule: float        # the hand-set undated rule would refuse (evidence.assess)
    answer_coverage: float  # rarity-weighted share of the question's terms in the answer
    new_names: float        # names the answer adds to the question's, up to 4, over 4
    top_agree: float        # the answer's article holds retrieval's best chunk
    typed_question: float   # the question asks for a thing of a type (checks.expected / answer_type)


FEATURES = (*Assessment.feature_names(), *AnswerSignals.__dataclass_fields__)


def signals(question: str, chunks: Sequence[RetrievedChunk], answer: str, article_id: str,
            published: Sequence[str | None], assessment: Assessment, wanted: str | None,
            bounded_day: str | None, plain_day: str | None) -> AnswerSignals:
    """`bounded_day`: the day (YYYY-MM-DD) the asker gave, for a question that bounds its event to
    the days before it; `plain_day`: that day, for a question that names no time; else None."""
    age = _age(bounded_day, published)
    plain_age = _age(plain_day, published)
    need = checks.expected(question) or wanted
    q_terms = content_terms(question)
    weights = rarity(q_terms, [content_terms(c.text) for c in chunks])
    asked_words = {w.lower() for w in words(question)}
    names = {w for w in words(answer) if w[:1].isupper() and w.lower() not in asked_words
             and w.lower() not in STOP_WORDS}
    return AnswerSignals(
        log_age=math.log1p(max(age, 0)) if age is not None else 0.0,
        older_than_months=float(plain_age is not None and plain_age > tuning.PLAIN_STALE_DAYS),
        holds_expected=1.0 if need is None else float(checks.holds(answer, need, question)),
        hand_rule=float(assessment.hand_rule is not None),
        answer_coverage=coverage(q_terms & content_terms(answer), weights),
        new_names=min(len(names), 4) / 4,
        top_agree=float(bool(chunks) and chunks[0].article_id == article_id),
        typed_question=float(need is not None),
    )


def vector(assessment: Assessment, answer: AnswerSignals) -> tuple[float, ...]:
    return (*assessment.signals.vector(), *astuple(answer))


def probability(features: Sequence[float], model: tuning.Logistic = tuning.CONFIDENCE) -> float:
    z = model.intercept + sum(c * x for c, x in zip(model.coefficients, features, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def _age(asked: str | None, published: Sequence[str | None]) -> int | None:
    dates = [p for p in published if p]
    if not asked or not dates:
        return None
    try:
        return (date.fromisoformat(asked[:10]) - date.fromisoformat(max(dates)[:10])).days
    except ValueError:
        return None
