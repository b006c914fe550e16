"""Article -> chunks of whole sentences, with exact character offsets into the article text.

Chunks are packed from sentences up to `max_tokens` tiktoken tokens, break at paragraph ends
when the next paragraph would not fit, and repeat up to `overlap_tokens` of trailing sentences
when a paragraph has to be cut. A chunk that has reached `min_tokens` ends at the next
paragraph end, so a chunk is about one topic. The embedder's own counter (`limit_tokens`,
`limit`) vetoes a chunk over the model's input window. A sentence too long for any chunk is
cut at word boundaries. Chunk text is always a slice of the article text, never decoded tokens.

The window is a promise for any script: tiktoken sizes chunks, but an English WordPiece
vocabulary splits Cyrillic, Greek or Devanagari into many more pieces (issue 28), and CJK has
no spaces to cut at. So every chunk is counted whole by the embedder at the end, and one still
over its window is cut again (between sentences, else at a space, else between characters),
until each part fits. Chunks that fit are never touched, so this changes nothing for them.
"""

from __future__ import annotations

import unicodedata
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
    over = _over_limit(article.text, limit_tokens, limit)
    spans = _pack(pieces, max_tokens, overlap_tokens, window, min_tokens, over)
    if over is not None and limit_tokens is not None and limit:
        spans = _refit(article.text, spans, pieces, limit_tokens, limit, over)
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
          min_tokens: int, over: _Over | None = None) -> list[tuple[int, int]]:
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
            # The overlap is counted by tiktoken; it must not push the next chunk over the model's
            # window (issue 28: the crash on Cyrillic). Checked by the real count, so only a chunk
            # that would not fit loses its overlap.
            while current and over is not None and window is not None \
                    and sum(p.limit_tokens for p in current) + piece.limit_tokens > window \
                    and over(current[0].start, piece.end):
                current.pop(0)
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


_Over = Callable[[int, int], bool]


def _over_limit(text: str, limit_tokens: TokenCounter | None, limit: int | None) -> _Over | None:
    """Whether text[start:end] is over the embedder's window, by the embedder's own count."""
    if limit_tokens is None or not limit:
        return None
    return lambda start, end: limit_tokens([text[start:end]])[0] > limit


def _refit(text: str, spans: list[tuple[int, int]], pieces: list[_Piece], limit_tokens: TokenCounter,
           limit: int, over: _Over) -> list[tuple[int, int]]:
    """The spans, each one over the window cut until its parts fit (all are counted in one batch
    first: a chunk that fits is kept as it is)."""
    counts = limit_tokens([text[s:e] for s, e in spans]) if spans else []
    if all(n <= limit for n in counts):
        return spans
    breaks = {p.start for p in pieces}
    out: list[tuple[int, int]] = []
    for (s, e), n in zip(spans, counts, strict=True):
        out.extend(_cut_to_fit(text, s, e, breaks, over) if n > limit else [(s, e)])
    return out


def _cut_to_fit(text: str, start: int, end: int, breaks: set[int], over: _Over) -> list[tuple[int, int]]:
    """text[start:end] cut in two near its middle, at the best boundary it has, until each part fits."""
    if not over(start, end):
        return [(start, end)]
    cut = _cut_point(text, start, end, breaks)
    if cut is None:  # one character over the window: nothing smaller can be made
        return [(start, end)]
    left, right = _trim(text, start, cut), _trim(text, cut, end)
    return [*_cut_to_fit(text, *left, breaks, over), *_cut_to_fit(text, *right, breaks, over)]


def _cut_point(text: str, start: int, end: int, breaks: set[int]) -> int | None:
    """Where to cut: a sentence start, else a space, else a character boundary (never before a
    combining mark or beside a zero-width joiner), the one nearest the middle."""
    middle = (start + end) // 2
    sentences = [b for b in breaks if start < b < end]
    if sentences:
        return min(sentences, key=lambda b: abs(b - middle))
    spaces = [i for i in range(start + 1, end) if text[i].isspace() and not text[i - 1].isspace()]
    if spaces:
        return min(spaces, key=lambda i: abs(i - middle))
    for i in sorted(range(start + 1, end), key=lambda i: abs(i - middle)):
        if _char_boundary(text, i):
            return i
    return None


def _char_boundary(text: str, i: int) -> bool:
    return not (unicodedata.category(text[i]).startswith("M") or "\u200d" in (text[i], text[i - 1]))


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
