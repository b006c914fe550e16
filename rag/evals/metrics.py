"""Metric definitions. A metric with nothing to measure is None (null), never 0 or 1."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag.citations import normalise
from rag.evals.dataset import Question
from rag.types import Answer

RANK_DEPTH = 10
METRIC_KEYS = (
    "n_questions", "hit_at_1", "hit_at_5", "mrr_at_10", "answer_recall", "citation_validity",
    "citation_precision", "citation_recall", "refusal_precision", "refusal_recall",
    "false_refusal_rate", "supported_sentence_rate", "quote_repair_rate", "quote_drop_rate", "fallback_rate",
    "latency_p50_ms", "latency_p95_ms", "prompt_tokens_mean", "completion_tokens_mean",
    # what users feel (issue 25): right, wrong shown, refused; and how well confidence ranks answers
    "right_rate", "wrong_shown_rate", "answered_anyway_rate", "shown_precision", "coverage",
    "aurc", "risk_coverage", "calibration",
)
# For `compare` and floors: which way is better ("calibration.brier": a scalar inside a dict).
LOWER_IS_BETTER = frozenset({"false_refusal_rate", "quote_drop_rate", "fallback_rate", "latency_p50_ms",
                             "latency_p95_ms", "prompt_tokens_mean", "completion_tokens_mean",
                             "wrong_shown_rate", "answered_anyway_rate", "aurc", "calibration.brier",
                             "calibration.max_bin_gap", "calibration.ece"})
RIGHT_AT = 0.5  # an answer is right when it holds at least this share of the expected facts
CURVE_POINTS = 21
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class RankedChunk:
    article_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Outcome:
    question: Question
    answer: Answer
    ranking: Sequence[RankedChunk]  # at least the top 10 retrieved
    latency_ms: float
    judge: dict[str, Any] | None = None  # the LLM grader's verdict (rag/evals/grader.py), when asked


def first_hit_rank(q: Question, ranking: Sequence[RankedChunk]) -> int | None:
    for rank, chunk in enumerate(ranking[:RANK_DEPTH], start=1):
        if is_hit(q, chunk):
            return rank
    return None


def is_hit(q: Question, chunk: RankedChunk) -> bool:
    if q.spans:
        return any(s.overlaps(chunk.article_id, chunk.start, chunk.end) for spans in q.spans for s in spans)
    text = chunk.text.lower()
    return any(alt.lower() in text for fact in q.answers for alt in fact)


def fact_recall(q: Question, answer_text: str) -> float | None:
    if not q.answers:
        return None
    # Folded as citations are (case, typography, whitespace): an LLM writes "Oppenheimer" with
    # straight quotes where the article and the expected answer have curly ones.
    text = normalise(answer_text).text
    return sum(any(normalise(alt).text in text for alt in fact) for fact in q.answers) / len(q.answers)


def is_right(o: Outcome) -> bool | None:
    """Did the user get what they should have? An answerable question: the answer was shown and
    holds the expected fact (fact_recall >= 0.5); an unanswerable one: it was refused. None: an
    answerable question with no expected answers (nothing to grade by)."""
    if not o.question.answerable:
        return o.answer.refused
    if o.answer.refused:
        return False
    recall = fact_recall(o.question, o.answer.answer)
    return None if recall is None else recall >= RIGHT_AT


def verdict(o: Outcome) -> str:
    """right / wrong / refused, as the report shows each question (wrong: shown and not right,
    including an answer to an unanswerable question; ungraded: no expected answers)."""
    if o.answer.refused:
        return "refused"
    right = is_right(o)
    return "ungraded" if right is None else "right" if right else "wrong"


Metrics = dict[str, Any]


def user_metrics(outcomes: Sequence[Outcome]) -> Metrics:
    """right_rate, wrong_shown_rate, answered_anyway_rate, shown_precision, coverage, and the
    risk-coverage curve and calibration over `Answer.confidence` (see evals/README.md)."""
    graded = [o for o in outcomes if o.question.answerable and o.question.answers]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    shown = [o for o in outcomes if not o.answer.refused]
    # a shown answer's rightness; an unanswerable question answered anyway is wrong
    judged = [(o, r) for o in shown if (r := is_right(o)) is not None]
    return {
        "right_rate": _mean([is_right(o) is True for o in graded]),
        "wrong_shown_rate": _mean([is_right(o) is False and not o.answer.refused for o in graded]),
        "answered_anyway_rate": _mean([not o.answer.refused for o in unanswerable]),
        "shown_precision": _mean([r for _, r in judged]),
        "coverage": _mean([not o.answer.refused for o in outcomes]),
        **confidence_metrics([(o.answer.confidence, r) for o, r in judged], len(outcomes)),
    }


def confidence_metrics(scored: Sequence[tuple[float | None, bool]], n_questions: int) -> Metrics:
    """From (confidence, right) of the shown answers: the risk-coverage curve, its area, and the
    calibration table. Only shown answers enter: confidence is read as P(this shown answer is
    right); a refusal is not a prediction to be right or wrong about. None when no shown answer
    has a confidence."""
    pairs = sorted(((c, r) for c, r in scored if c is not None), key=lambda p: -p[0])
    if not pairs or not n_questions:
        return {"aurc": None, "risk_coverage": None, "calibration": None}
    # One cut-off per distinct confidence (ties are shown or held back together).
    cuts: list[tuple[float, int, int]] = []  # threshold, answers shown, of them right
    right = 0
    for i, (conf, ok) in enumerate(pairs):
        right += ok
        if i + 1 == len(pairs) or pairs[i + 1][0] != conf:
            cuts.append((conf, i + 1, right))
    # AURC: the mean risk over the cut-offs, each weighted by the answers it adds, i.e. the area
    # under the curve divided by the coverage it spans (so refusing more does not lower it by itself).
    aurc, before = 0.0, 0
    for _, shown, n_right in cuts:
        aurc += (1 - n_right / shown) * (shown - before)
        before = shown
    step = max(1, -(-len(cuts) // CURVE_POINTS))
    points = cuts[::step] if cuts[::step][-1] == cuts[-1] else cuts[::step][:CURVE_POINTS - 1] + [cuts[-1]]
    curve = [{"threshold": round(t, 4), "coverage": round(shown / n_questions, 4),
              "risk": round(1 - ok / shown, 4)} for t, shown, ok in points]
    return {"aurc": round(aurc / len(pairs), 4), "risk_coverage": curve, "calibration": calibration(pairs)}


def calibration(pairs: Sequence[tuple[float, bool]]) -> Metrics:
    """A reliability table over 10 equal bins of confidence ([0, 0.1), …, [0.9, 1.0]), the Brier
    score, the expected calibration error (bins weighted by size) and the largest bin gap."""
    bins: list[list[tuple[float, bool]]] = [[] for _ in range(CALIBRATION_BINS)]
    for conf, ok in pairs:
        bins[min(CALIBRATION_BINS - 1, max(0, int(conf * CALIBRATION_BINS)))].append((conf, ok))
    rows, gaps, ece = [], [], 0.0
    for i, members in enumerate(bins):
        mean_conf = _mean([c for c, _ in members])
        accuracy = _mean([ok for _, ok in members])
        if mean_conf is not None and accuracy is not None:
            gaps.append(abs(mean_conf - accuracy))
            ece += abs(mean_conf - accuracy) * len(members) / len(pairs)
        rows.append({"lo": round(i / CALIBRATION_BINS, 2), "hi": round((i + 1) / CALIBRATION_BINS, 2),
                     "n": len(members), "mean_confidence": mean_conf, "accuracy": accuracy})
    return {"bins": rows, "brier": _mean([(c - ok) ** 2 for c, ok in pairs]),
            "ece": round(ece, 4), "max_bin_gap": round(max(gaps), 4)}


def compute(outcomes: Sequence[Outcome], article_texts: dict[str, str]) -> Metrics:
    answerable = [o for o in outcomes if o.question.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    ranks = [first_hit_rank(o.question, o.ranking) for o in answerable]

    recalls = [r for o in answerable
               if (r := fact_recall(o.question, "" if o.answer.refused else o.answer.answer)) is not None]
    all_citations = [c for o in outcomes for c in o.answer.citations]
    valid = [article_texts.get(c.article_id, "")[c.start:c.end] == c.quote for c in all_citations]

    cited = [(o, c) for o in answerable for c in o.answer.citations if o.question.spans]
    precise = [any(s.overlaps(c.article_id, c.start, c.end) for spans in o.question.spans for s in spans)
               for o, c in cited]
    passages = [(o, spans) for o in answerable for spans in o.question.spans]
    covered = [any(s.overlaps(c.article_id, c.start, c.end) for s in spans for c in o.answer.citations)
               for o, spans in passages]

    refused = [o for o in outcomes if o.answer.refused]
    checks = [o.answer.verification for o in outcomes if not o.answer.refused]
    sentences = sum(v.sentences_total for v in checks)
    quotes = sum(v.quotes_total for v in checks)
    latencies = sorted(o.latency_ms for o in outcomes)
    usages = [o.answer.usage for o in outcomes if o.answer.usage is not None]
    return {
        "n_questions": len(outcomes),
        "hit_at_1": _mean([r is not None and r <= 1 for r in ranks]),
        "hit_at_5": _mean([r is not None and r <= 5 for r in ranks]),
        "mrr_at_10": _mean([1 / r if r else 0.0 for r in ranks]),
        "answer_recall": _mean(recalls),
        "citation_validity": _mean(valid),
        "citation_precision": _mean(precise),
        "citation_recall": _mean(covered),
        "refusal_precision": _mean([not o.question.answerable for o in refused]),
        "refusal_recall": _mean([o.answer.refused for o in unanswerable]),
        "false_refusal_rate": _mean([o.answer.refused for o in answerable]),
        # Of the sentences in the answers given, the share their citations support.
        "supported_sentence_rate": _ratio(sentences - sum(v.unsupported_sentences for v in checks), sentences),
        # Of the quotes the answers were written from, the share re-grounded / dropped.
        "quote_repair_rate": _ratio(sum(v.repaired for v in checks), quotes),
        "quote_drop_rate": _ratio(sum(v.dropped for v in checks), quotes),
        "fallback_rate": _mean([o.answer.mode == "extractive-fallback" for o in outcomes]),
        "latency_p50_ms": _percentile(latencies, 50),
        "latency_p95_ms": _percentile(latencies, 95),
        # LLM tokens per answer, as the server counted them (None: no server reported any)
        "prompt_tokens_mean": _mean([u.prompt_tokens for u in usages]),
        "completion_tokens_mean": _mean([u.completion_tokens for u in usages]),
        **user_metrics(outcomes),
    }


def scalars(metrics: Metrics) -> dict[str, float | int | None]:
    """The numbers of a metrics dict, for tables and compare: scalars as they are, a dict's
    scalars as `name.key` (calibration.brier); lists (the curve, the bins) are left out."""
    flat: dict[str, float | int | None] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items() if v is None or isinstance(v, (int, float))})
        elif value is None or isinstance(value, (int, float)):
            flat[key] = value
    return flat


def scalar(metrics: Metrics, key: str) -> float | int | None:
    value = scalars(metrics).get(key)
    return value


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: Sequence[float | bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    if not sorted_values:
        return None
    # nearest-rank percentile: a value that was actually observed
    index = max(0, min(len(sorted_values) - 1, -(-len(sorted_values) * pct // 100) - 1))
    return round(sorted_values[int(index)], 2)


def reason_kind(reason: str) -> str:
    """A refusal reason without what varies per question (its score, the names it lacks, an "as
    of" notice), for counting refusals by reason."""
    key = re.split(r" \((?:evidence score|confidence) |\. As of ", reason)[0].rstrip(".")
    return "the sources do not mention …" if key.startswith("the sources do not mention") else key
