"""The numbered sources an LLM answers from.

A source is a span of one article: the whole article when it is short (a list question's items
sit in several chunks, and five chunks missed two of the seed's seven), else its retrieved
chunks merged where they touch or overlap. Articles come in their best chunk's rank order until
the token budget is spent; an article that does not fit whole falls back to its chunks.
docs/design.md has the measurement behind the defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.sentences import split_sentences
from rag.types import RetrievedChunk


@dataclass(frozen=True)
class Source:
    n: int
    article_id: str
    title: str
    published_at: str | None
    start: int  # span of the article text
    end: int
    text: str
    chunks: tuple[RetrievedChunk, ...]  # the retrieved chunks inside it, best first


def confident(chunks: Sequence[RetrievedChunk], margin: float, max_articles: int) -> list[RetrievedChunk]:
    """The chunks of the articles retrieval is sure of: those whose best chunk scores within
    `margin` of the best one, at most `max_articles` of them (0: no limit). Less to read is less
    prefill, the bulk of a small local model's latency."""
    if not chunks or not max_articles:
        return list(chunks)
    top = max(c.score for c in chunks)
    kept: list[str] = []
    for c in sorted(chunks, key=lambda c: -c.score):
        if c.article_id not in kept and c.score >= top - margin and len(kept) < max_articles:
            kept.append(c.article_id)
    return [c for c in chunks if c.article_id in kept]


def build_sources(
    chunks: Sequence[RetrievedChunk],
    article_text: Callable[[str], str | None],
    count_tokens: Callable[[str], int],
    budget_tokens: int,
    whole_article_tokens: int,
) -> list[Source]:
    by_article: dict[str, list[RetrievedChunk]] = {}
    for c in chunks:  # dicts keep insertion order: articles in best-rank order
        by_article.setdefault(c.article_id, []).append(c)
    spans: list[tuple[RetrievedChunk, int, int, str, tuple[RetrievedChunk, ...]]] = []
    used = 0
    for article_id, hits in by_article.items():
        text = article_text(article_id)
        if text is not None and whole_article_tokens:
            cost = count_tokens(text)
            if cost <= whole_article_tokens and (used + cost <= budget_tokens or not spans):
                spans.append((hits[0], 0, len(text), text, tuple(hits)))
                used += cost
                continue
        for start, end, members in _merge(hits):
            piece = _slice(text, members, start, end)
            cost = count_tokens(piece)
            if used + cost > budget_tokens and spans:
                continue
            spans.append((members[0], start, end, piece, tuple(members)))
            used += cost
    return [Source(n, first.article_id, first.title, first.published_at, start, end, piece, members)
            for n, (first, start, end, piece, members) in enumerate(spans, start=1)]


def _merge(hits: list[RetrievedChunk]) -> list[tuple[int, int, list[RetrievedChunk]]]:
    """Touching or overlapping chunks become one span; spans keep the rank of their best chunk."""
    ordered = sorted(hits, key=lambda c: c.start)
    merged: list[tuple[int, int, list[RetrievedChunk]]] = []
    for c in ordered:
        if merged and c.start <= merged[-1][1] + 2:
            start, end, members = merged[-1]
            merged[-1] = (start, max(end, c.end), members + [c])
        else:
            merged.append((c.start, c.end, [c]))
    rank = {c.chunk_id: i for i, c in enumerate(hits)}
    merged.sort(key=lambda m: min(rank[c.chunk_id] for c in m[2]))
    return [(s, e, sorted(m, key=lambda c: rank[c.chunk_id])) for s, e, m in merged]


def _slice(text: str | None, members: list[RetrievedChunk], start: int, end: int) -> str:
    if text is not None:
        return text[start:end]
    out = ""  # rebuild the span from the chunks themselves (they are exact slices of the article)
    for c in sorted(members, key=lambda c: c.start):
        at = start + len(out)
        if c.end > at:
            out += " " * max(0, c.start - at) + c.text[max(0, at - c.start):]
    return out


@dataclass(frozen=True)
class Numbered:
    """A sentence of a source as sentences mode numbers it ([S3]), with its offsets in the article."""

    n: int
    source: Source
    start: int  # offsets into the article text
    end: int
    text: str


def number_sentences(sources: Sequence[Source], texts: dict[str, str]) -> list[Numbered]:
    found: list[Numbered] = []
    for source in sources:
        text = texts.get(source.article_id)
        if text is None:  # only the chunks are known: their span, rebuilt by build_sources
            spans = [(source.start + s, source.start + e) for s, e in split_sentences(source.text)]
            body = " " * source.start + source.text
        else:
            spans, body = split_sentences(text[source.start:source.end], offset=source.start), text
        for s, e in spans:
            found.append(Numbered(len(found) + 1, source, s, e, body[s:e]))
    return found


def excerpt_sources(picked: Sequence[tuple[RetrievedChunk, int, int]], article_text: Callable[[str], str | None],
                    neighbours: int) -> list[Source]:
    """Extract-then-compose (as in RECOMP): the sentences the extractive answer chose, `(chunk,
    start, end)` in the article, each with `neighbours` sentences either side, one source per run
    of touching sentences, articles in the order of their first pick. What the model reads is a
    few sentences, not whole articles: fewer prompt tokens, and the sentence that answers is there.
    An article whose text cannot be read is left out (the caller falls back to whole sources)."""
    by_article: dict[str, list[tuple[RetrievedChunk, int, int]]] = {}
    for pick in picked:
        by_article.setdefault(pick[0].article_id, []).append(pick)
    spans: list[tuple[RetrievedChunk, int, int, str]] = []
    for article_id, picks in by_article.items():
        text = article_text(article_id)
        if text is None:
            return []
        sentences = split_sentences(text)
        wanted: set[int] = set()
        for _, start, end in picks:
            hits = [i for i, (s, e) in enumerate(sentences) if s < end and e > start]
            for i in hits:
                wanted.update(range(max(0, i - neighbours), min(len(sentences), i + neighbours + 1)))
        run: list[int] = []
        for i in sorted(wanted):
            if run and i != run[-1] + 1:
                spans.append(_excerpt(picks[0][0], sentences, run, text))
                run = []
            run.append(i)
        if run:
            spans.append(_excerpt(picks[0][0], sentences, run, text))
    return [Source(n, chunk.article_id, chunk.title, chunk.published_at, start, end, piece, (chunk,))
            for n, (chunk, start, end, piece) in enumerate(spans, start=1)]


def _excerpt(chunk: RetrievedChunk, sentences: list[tuple[int, int]], run: list[int],
             text: str) -> tuple[RetrievedChunk, int, int, str]:
    start, end = sentences[run[0]][0], sentences[run[-1]][1]
    return chunk, start, end, text[start:end]
