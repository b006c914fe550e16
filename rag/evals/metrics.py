"""Metric definitions. A metric with nothing to measure is None (null), never 0 or 1."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag.citations import normalise
from rag.evals.dataset import Question
from rag.types import Answer

RANK_DEPTH = 10
METRIC_KEYS = (
    "n_questions", "hit_at_1", "hit_at_5", "mrr_at_10", "answer_recall", "citation_validity",
    "citation_precision", "citation_recall", "refusal_precision", "refusal_recall",
    "false_refusal_rate", "supported_sentence_rate", "quote_repair_rate", "quote_drop_rate", "fallback_rate",
    "latency_p50_ms", "latency_p95_ms", "prompt_tokens_mean", "completion_tokens_mean",
)
# For `compare` and floors: which way is better.
LOWER_IS_BETTER = frozenset({"false_refusal_rate", "quote_drop_rate", "fallback_rate", "latency_p50_ms",
                             "latency_p95_ms", "prompt_tokens_mean", "completion_tokens_mean"})


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


def compute(outcomes: Sequence[Outcome], article_texts: dict[str, str]) -> dict[str, float | int | None]:
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
    }


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
