"""Article -> chunks of whole sentences, with exact character offsets into the article text.

Chunks are packed from sentences up to `max_tokens` tiktoken tokens, break at paragraph ends
when the next paragraph would not fit, and repeat up to `overlap_tokens` of trailing sentences
when a paragraph has to be cut. A chunk that has reached `min_tokens` ends at the next
paragraph end, so a chunk is about one topic. The embedder's own counter (`limit_tokens`,
`limit`) vetoes a chunk over the model's input window. A sentence too long for any chunk is
cut at word boundaries. Chunk text is always a slice of the article text, never decoded tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rag.ids import chunk_id
from rag.sentences import split_paragraphs, split_sentences, word_spans
from rag.types import Article, Chunk

TokenCounter = Callable[[list[str]], list[int]]

# Part of the stored collection's name (rag/store.py collection_stem): bump it whenever a change
# here would cut an unchanged article differently, so every article is chunked again.
CHUNKER_VERSION = 2
_SPECIAL_TOKENS = 8  # of the embedder's window: [CLS], [SEP] and the joins between sentences
_SPLIT_MARGIN = 0.9  # long sentences are cut below this share of a budget: joins shift tokens a little


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    paragraph: int
    tokens: int
    limit_tokens: int


def chunk_article(
    article: Article,
    count_tokens: TokenCounter,
    max_tokens: int = 160,
    overlap_tokens: int = 32,
    limit_tokens: TokenCounter | None = None,
    limit: int | None = None,
    article_hash: str | None = None,
    min_tokens: int | None = None,
) -> list[Chunk]:
    """Chunks of `article`. `limit_tokens`/`limit` is the embedder's own counter and window."""
    if min_tokens is None:
        min_tokens = max_tokens + 1  # never break early: pack paragraphs up to max_tokens
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError(f"overlap_tokens must be in [0, max_tokens), got {overlap_tokens}")
    window = (limit - _SPECIAL_TOKENS) if limit else None
    pieces = _pieces(article.text, count_tokens, max_tokens, limit_tokens, window)
    spans = _pack(pieces, max_tokens, overlap_tokens, window, min_tokens)
    digest = article_hash or article.content_hash
    paragraph_starts = {s for s, _ in split_paragraphs(article.text)}
    return [
        Chunk(id=chunk_id(article.id, digest, i), article_id=article.id, index=i,
              start=s, end=e, text=article.text[s:e], starts_paragraph=s in paragraph_starts)
        for i, (s, e) in enumerate(spans)
    ]


def _pieces(text: str, count_tokens: TokenCounter, max_tokens: int, limit_tokens: TokenCounter | None,
            window: int | None) -> list[_Piece]:
    spans: list[tuple[int, int, int]] = []
    for p, (ps, pe) in enumerate(split_paragraphs(text)):
        for s, e in split_sentences(text[ps:pe], offset=ps):
            spans.append((s, e, p))
    texts = [text[s:e] for s, e, _ in spans]
    tokens = count_tokens(texts)
    limits = limit_tokens(texts) if limit_tokens else [0] * len(texts)
    pieces: list[_Piece] = []
    for (s, e, p), t, lt in zip(spans, tokens, limits, strict=True):
        if t <= max_tokens and (window is None or lt <= window):
            pieces.append(_Piece(s, e, p, t, lt))
        else:
            pieces.extend(_split_long(text, s, e, p, count_tokens, limit_tokens, max_tokens, window))
    return pieces


def _split_long(text: str, start: int, end: int, paragraph: int, count_tokens: TokenCounter,
                limit_tokens: TokenCounter | None, max_tokens: int, window: int | None) -> list[_Piece]:
    """Cut one over-long sentence into word windows that fit."""
    words = word_spans(text[start:end], offset=start)
    word_texts = [text[s:e] for s, e in words]
    tokens = count_tokens(word_texts)
    limits = limit_tokens(word_texts) if limit_tokens else [0] * len(words)
    budget = max_tokens * _SPLIT_MARGIN
    lbudget = window * _SPLIT_MARGIN if window else None
    out: list[_Piece] = []
    first, t_sum, l_sum = 0, 0, 0
    for i, (t, lt) in enumerate(zip(tokens, limits, strict=True)):
        if i > first and (t_sum + t > budget or (lbudget and l_sum + lt > lbudget)):
            out.append(_Piece(words[first][0], words[i - 1][1], paragraph, t_sum, l_sum))
            first, t_sum, l_sum = i, 0, 0
        t_sum += t
        l_sum += lt
    if words:
        out.append(_Piece(words[first][0], words[-1][1], paragraph, t_sum, l_sum))
    return out


def _pack(pieces: list[_Piece], max_tokens: int, overlap: int, window: int | None,
          min_tokens: int) -> list[tuple[int, int]]:
    chunks: list[tuple[int, int]] = []
    current: list[_Piece] = []

    def fits(group: list[_Piece]) -> bool:
        return sum(p.tokens for p in group) <= max_tokens and (
            window is None or sum(p.limit_tokens for p in group) <= window
        )

    i = 0
    while i < len(pieces):
        piece = pieces[i]
        starts_paragraph = not current or current[-1].paragraph != piece.paragraph
        if current and starts_paragraph:
            paragraph = [q for q in pieces[i:] if q.paragraph == piece.paragraph]
            filled = sum(p.tokens for p in current) >= min_tokens
            if filled or (not fits(current + paragraph) and fits(paragraph)):
                chunks.append((current[0].start, current[-1].end))
                current = []
        if current and not fits(current + [piece]):
            chunks.append((current[0].start, current[-1].end))
            current = _tail(current, overlap, piece) if not starts_paragraph else []
        current.append(piece)
        i += 1
    if current:
        chunks.append((current[0].start, current[-1].end))
    return chunks


def _tail(group: list[_Piece], overlap: int, following: _Piece) -> list[_Piece]:
    """Trailing sentences of the same paragraph, at most `overlap` tokens, to start the next chunk."""
    tail: list[_Piece] = []
    total = following.tokens
    for piece in reversed(group):
        if piece.paragraph != following.paragraph or total + piece.tokens > overlap + following.tokens:
            break
        tail.insert(0, piece)
        total += piece.tokens
    return tail
