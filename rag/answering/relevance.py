"""Does the cited evidence answer this question, or a neighbouring one?

Verified quotes can still be about another story: asked which fish was seen in daylight, with
that story absent, a model names a fish from another article and quotes it correctly. So the
LLM answer's evidence (the cited sentences and the articles they come from) is checked against
the question's specifics before it is shown:
- names: the question's names (capitalised words past the first) must occur in the cited
  articles, allowing derived forms (Russia/Russian), up to `max_missing_names`;
- content: a share of the question's content terms must occur in the cited articles;
- years the question names must occur in the cited articles;
- answer type: a "how many/much" question needs a number in a cited sentence that the question
  does not hold; a "when" question a date, day, month or year.
This is the LLM path's own check; the extractive answerer has its own refusal rules.
Thresholds: docs/design.md, "LLM answers with a real model (issue 15)".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.answering.claims import names_covered, numbers
from rag.terms import content_terms, named_terms, words

_HOW_MANY = re.compile(r"\bhow (many|much)\b", re.I)
_WHEN = re.compile(r"^\s*(when\b|since when\b|(in |on )?(what|which) (date|day|year|month)\b)", re.I)
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_DATE_WORDS = frozenset(
    "january february march april may june july august september october november december jan feb mar apr "
    "jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday today yesterday "
    "tomorrow week weekend month year".split())


@dataclass(frozen=True)
class RelevanceParams:
    max_missing_names: int = 0  # names of the question the evidence may lack
    min_terms: float = 0.5  # share of the question's content terms the cited articles must hold


def unanswered(question: str, cited: Sequence[str], articles: Sequence[str],
               params: RelevanceParams = RelevanceParams()) -> str | None:
    """Why the evidence does not answer the question, or None when it may."""
    evidence = " ".join(articles)
    terms = content_terms(evidence)
    names = named_terms(question)
    missing = sorted(n for n in names if not names_covered({n}, terms))
    if len(missing) > params.max_missing_names:
        return f"the cited articles do not mention {', '.join(missing)}"
    q_terms = content_terms(question)
    if q_terms and len(q_terms & terms) / len(q_terms) < params.min_terms:
        return "the cited articles are about something else"
    years = set(_YEAR.findall(question)) - set(_YEAR.findall(evidence))
    if years:
        return f"the cited articles do not mention {', '.join(sorted(years))}"
    said = " ".join(cited)
    if _HOW_MANY.search(question) and not numbers(said) - numbers(question):
        return "the cited sentences hold no number"
    if _WHEN.search(question) and not _has_date(said, question):
        return "the cited sentences hold no date"
    return None


def _has_date(text: str, question: str) -> bool:
    asked = {w.lower() for w in words(question)}
    return bool(_YEAR.search(text)) or any(w.lower() in _DATE_WORDS and w.lower() not in asked or
                                           any(ch.isdigit() for ch in w) for w in words(text))
