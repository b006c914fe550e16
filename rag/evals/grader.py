"""Grading by meaning: an LLM judge beside the string grader (`rag eval --grader llm`).

The string grader (metrics.is_right) under-counts answers worded differently ("1,000" vs "a
thousand", "Babushkina Krynka dairy" vs "Babushkina Krynka"). The judge reads a fixed rubric, the
question, the expected answer, the evidence quote and the answer, and replies RIGHT or WRONG. It
grades only shown answers to answerable questions with an expected answer: a refusal is graded
as refused, and an answer shown to an unanswerable question is wrong whatever it says. Its
prompts are the same for the same answer, so a reply cache (rag/llm_cache.py) makes a re-grade free.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from rag.evals.metrics import Outcome, is_right

JUDGE_VERSION = "1"
RUBRIC = """You grade answers to questions about news articles. You get the question, the expected
answer, the evidence passage from the article, and the system's answer.

The answer is RIGHT when it states the expected answer's fact: other wording, a fuller or shorter
form of the same name ("Babushkina Krynka dairy" for "Babushkina Krynka"), a number written
another way ("a thousand" for "1,000"), or extra correct detail all count.
The answer is WRONG when it gives a different fact, only says something related without the
expected fact, hedges between several options, or contradicts the evidence.

Reply with one word: RIGHT or WRONG."""

Completer = Callable[[list[dict[str, str]]], str]
_VERDICT = re.compile(r"\b(RIGHT|WRONG|CORRECT|INCORRECT)\b", re.IGNORECASE)


def judge_messages(o: Outcome) -> list[dict[str, str]]:
    expected = " / ".join(" or ".join(fact) for fact in o.question.answers)
    evidence = "\n".join(o.question.evidence) or "(none given)"
    return [{"role": "system", "content": RUBRIC},
            {"role": "user", "content": f"Question: {o.question.question}\nExpected answer: {expected}\n"
                                        f"Evidence: {evidence}\nAnswer: {o.answer.answer}\n\nRIGHT or WRONG?"}]


def parse_verdict(reply: str) -> bool | None:
    found = _VERDICT.search(reply)
    if not found:
        return None
    return found.group(1).upper() in ("RIGHT", "CORRECT")


def grade(outcomes: Sequence[Outcome], complete: Completer,
          progress: Callable[[int, int], None] | None = None) -> list[Outcome]:
    """The outcomes with `judge` set: {"right": bool | None, "verdict": "right" | "wrong" |
    "refused" | "unreadable", "by": "llm" | "rule"}."""
    graded = []
    for i, o in enumerate(outcomes):
        judge: dict[str, Any]
        if o.answer.refused:
            judge = {"right": not o.question.answerable, "verdict": "refused", "by": "rule"}
        elif not o.question.answerable:
            judge = {"right": False, "verdict": "wrong", "by": "rule"}
        elif not o.question.answers:
            judge = {"right": None, "verdict": "ungraded", "by": "rule"}
        else:
            try:
                reply = complete(judge_messages(o))
                right = parse_verdict(reply)
            except Exception as exc:  # one failed call is one ungraded answer, not a failed run
                reply, right = f"error: {type(exc).__name__}: {exc}"[:200], None
            judge = {"right": right, "verdict": "unreadable" if right is None else "right" if right else "wrong",
                     "by": "llm", "reply": reply.strip()[:200]}
        graded.append(replace(o, judge=judge))
        if progress:
            progress(i + 1, len(outcomes))
    return graded


def judge_metrics(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The judge's right_rate and shown_precision (as metrics.user_metrics defines them, with the
    judge deciding "right"), and its agreement with the string grader on the answers it read."""
    graded = [o for o in outcomes if o.question.answerable and o.question.answers and o.judge]
    shown = [o for o in outcomes if not o.answer.refused and o.judge and o.judge["right"] is not None]
    pairs = [(bool(is_right(o)), bool(o.judge["right"])) for o in outcomes
             if o.judge and o.judge.get("by") == "llm" and o.judge["right"] is not None and is_right(o) is not None]
    return {
        "judge_right_rate": _mean([o.judge["right"] is True for o in graded if o.judge]),
        "judge_shown_precision": _mean([bool(o.judge["right"]) for o in shown if o.judge]),
        "judge_n": len(pairs),
        "judge_agreement": _mean([a == b for a, b in pairs]),
        "judge_kappa": cohen_kappa(pairs),
        "judge_unreadable": sum(1 for o in outcomes if o.judge and o.judge.get("verdict") == "unreadable"),
    }


def cohen_kappa(pairs: Sequence[tuple[bool, bool]]) -> float | None:
    """Cohen's kappa of two binary raters: (observed - chance agreement) / (1 - chance)."""
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    p_a, p_b = sum(a for a, _ in pairs) / n, sum(b for _, b in pairs) / n
    chance = p_a * p_b + (1 - p_a) * (1 - p_b)
    if chance == 1:
        return 1.0 if observed == 1 else None
    return round((observed - chance) / (1 - chance), 4)


def disagreements(outcomes: Sequence[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.judge and o.judge.get("by") == "llm" and o.judge["right"] is not None
            and is_right(o) is not None and bool(is_right(o)) != bool(o.judge["right"])]


def _mean(values: Sequence[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None
