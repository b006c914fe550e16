"""Extractive answers: the retrieved sentences that best answer the question, quoted verbatim.

News has structure worth using: a reporter's sentence opens each paragraph and names its topic;
quotes follow. A sentence is scored by its chunk's dense similarity, the question terms it and
its paragraph share (weighted by rarity among the retrieved chunks), and a bonus for being a
paragraph's lead. Answers draw at most one sentence per paragraph, so list questions get the
breadth of the article rather than three sentences of one paragraph.

It refuses when what the question asks about is not in what would be quoted: when too little of
the question's (rarity-weighted) content is covered by the best article's retrieved text, or a
name in the question does not occur there at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rag.sentences import split_paragraphs, split_sentences
from rag.terms import content_terms, named_terms
from rag.types import RetrievedChunk

_QUOTE_OPENERS = "“\"‘'«„"


@dataclass(frozen=True)
class Params:
    """Tuned on evals/datasets (see docs/decisions.md); change only with `rag eval compare`."""

    w_sentence: float = 0.35
    w_paragraph: float = 0.15
    w_lead: float = 0.05
    margin: float = 0.12          # a further sentence must score within this of the best
    max_sentences: int = 7
    min_coverage: float = 0.5     # rarity-weighted share of question terms found
    min_dense: float = 0.15


@dataclass(frozen=True)
class Candidate:
    chunk: RetrievedChunk
    start: int      # offsets into the article text
    end: int
    text: str
    paragraph: tuple[str, int]
    score: float


@dataclass(frozen=True)
class Extract:
    sentences: list[Candidate]
    refused: bool
    reason: str = ""


def extract(question: str, chunks: list[RetrievedChunk], params: Params = Params()) -> Extract:
    q_terms = content_terms(question)
    if not q_terms:
        return Extract([], True, "the question has nothing to look up")
    if not chunks:
        return Extract([], True, "nothing was retrieved")
    chunk_terms = [content_terms(c.text) for c in chunks]
    weights = _rarity(q_terms, chunk_terms)
    total = sum(weights.values())

    candidates: dict[tuple[str, int, int], Candidate] = {}
    for chunk in chunks:
        for ps, pe in split_paragraphs(chunk.text):
            para_text = chunk.text[ps:pe]
            para_cov = _coverage(q_terms & content_terms(para_text), weights, total)
            for k, (ss, se) in enumerate(split_sentences(para_text, offset=ps)):
                text = chunk.text[ss:se]
                lead = k == 0 and (ps > 0 or chunk.index == 0) and text[:1] not in _QUOTE_OPENERS
                score = (
                    chunk.score
                    + params.w_sentence * _coverage(q_terms & content_terms(text), weights, total)
                    + params.w_paragraph * para_cov
                    + params.w_lead * lead
                )
                key = (chunk.article_id, chunk.start + ss, chunk.start + se)
                if key not in candidates or candidates[key].score < score:
                    candidates[key] = Candidate(chunk, key[1], key[2], text,
                                                (chunk.article_id, chunk.start + ps), score)
    ranked = sorted(candidates.values(), key=lambda c: (-c.score, c.start))
    best = ranked[0]

    article_text = " ".join(c.text for c in chunks if c.article_id == best.chunk.article_id)
    article_terms = content_terms(article_text)
    coverage = _coverage(q_terms & article_terms, weights, total)
    missing_names = named_terms(question) - article_terms
    if best.chunk.score < params.min_dense:
        return Extract([], True, "nothing retrieved is close to the question")
    if missing_names:
        return Extract([], True, f"the sources do not mention {', '.join(sorted(missing_names))}")
    if coverage < params.min_coverage:
        return Extract([], True, "the sources do not say")

    chosen = [best]
    used = {best.paragraph}
    for cand in ranked[1:]:
        if len(chosen) >= params.max_sentences or cand.score < best.score - params.margin:
            break
        if cand.paragraph in used or cand.chunk.article_id != best.chunk.article_id:
            continue
        chosen.append(cand)
        used.add(cand.paragraph)
    chosen.sort(key=lambda c: (c.chunk.article_id != best.chunk.article_id, c.start))
    return Extract(chosen, False)


def _rarity(q_terms: set[str], chunk_terms: list[set[str]]) -> dict[str, float]:
    n = len(chunk_terms)
    return {t: math.log(1 + (n + 1) / (sum(t in ct for ct in chunk_terms) + 0.5)) for t in q_terms}


def _coverage(found: set[str], weights: dict[str, float], total: float) -> float:
    return sum(weights[t] for t in found) / total if total else 0.0
