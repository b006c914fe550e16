"""Does the cited evidence answer this question, or a neighbouring one?

Verified quotes can still be about another story: asked which fish was seen in daylight, with
that story absent, a model names a fish from another article and quotes it correctly. So the
LLM answer's evidence (the cited sentences and the articles they come from) is checked against
the question's specifics before it is shown:
- names: the question's names (capitalised words past the first) that the cited articles lack,
  allowing derived forms (Russia/Russian), must not carry half of the question's rarity-weighted
  terms ("What did Belarus offer Kazakhstan?" answered from the Astrakhan story); a plain "any
  name missing" rule refused a third of answerable real-news questions, which name context the
  evidence paragraph omits;
- closeness: the cited articles' best retrieved chunk must be close to the question (cosine);
- answer type: a "how many/much" question needs a number in a cited sentence that the question
  does not hold; a "when" question a date, day, month or year.
This is the LLM path's second line: the extractive evidence model refuses first, before the model
is asked (RAG_LLM_EVIDENCE_GATE). Two checks were dropped on real news in LLM mode (80 tuning
questions, docs/design.md "LLM answers with a real model (issue 15)"): a share of the question's
terms in the cited articles (0.2) refused a fifth of the answerable questions, and "the years the
question names" refused answerable ones that name the year the article does not spell out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rag import tuning
from rag.answering.claims import names_covered, numbers
from rag.answering.evidence import asks_when, rarity
from rag.terms import content_terms, named_terms, words
from rag.types import RetrievedChunk

_HOW_MANY = re.compile(r"\bhow (many|much)\b", re.I)
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_DATE_WORDS = frozenset(
    "january february march april may june july august september october november december jan feb mar apr "
    "jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday today yesterday "
    "tomorrow week weekend month year".split())


@dataclass(frozen=True)
class RelevanceParams:
    max_missing_names: float = tuning.MAX_MISSING_NAMES  # share of the question's weight on names they lack
    min_dense: float = tuning.MIN_CITED_DENSE  # cosine of the cited articles' best retrieved chunk to the question


def unanswered(question: str, cited: Sequence[str], articles: Sequence[str], article_ids: Iterable[str],
               chunks: Sequence[RetrievedChunk], params: RelevanceParams = RelevanceParams()) -> str | None:
    """Why the evidence (the `cited` sentences, from `articles`) does not answer the question, or
    None when it may. Rarity is measured over the retrieved `chunks`, as the extractive answerer does."""
    evidence = " ".join(articles)
    terms = content_terms(evidence)
    q_terms = content_terms(question)
    pool = [content_terms(c.text) for c in chunks]
    weights = rarity(q_terms, pool)
    total = sum(weights.values())
    missing = sorted(n for n in named_terms(question) if not names_covered({n}, terms))
    if total and sum(weights.get(n, 0.0) for n in missing) / total >= params.max_missing_names:
        return f"the cited articles do not mention {', '.join(missing)}"
    ids = set(article_ids)
    dense = [c.dense_score for c in chunks if c.article_id in ids and c.dense_score is not None]
    if dense and max(dense) < params.min_dense:
        return "the cited articles are not close to the question"
    said = " ".join(cited)
    if _HOW_MANY.search(question) and not numbers(said) - numbers(question):
        return "the cited sentences hold no number"
    if asks_when(question) and not _has_date(said, question):
        return "the cited sentences hold no date"
    return None


def _has_date(text: str, question: str) -> bool:
    asked = {w.lower() for w in words(question)}
    return bool(_YEAR.search(text)) or any(w.lower() in _DATE_WORDS and w.lower() not in asked or
                                           any(ch.isdigit() for ch in w) for w in words(text))
