"""Paragraphs and sentences as (start, end) character spans of the original string."""

from __future__ import annotations

import re

import blingfire

_PARAGRAPH = re.compile(r"\S(?:.*?\S)?(?=\s*\n\s*\n|\s*\Z)", re.DOTALL)
_WORD = re.compile(r"\S+")


def split_paragraphs(text: str) -> list[tuple[int, int]]:
    """Blocks separated by blank lines, trimmed of surrounding whitespace."""
    return [(m.start(), m.end()) for m in _PARAGRAPH.finditer(text)]


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans (shifted by `offset`); blingfire's offsets are character offsets."""
    if not text.strip():
        return []
    _, spans = blingfire.text_to_sentences_and_offsets(text)
    result = []
    for start, end in spans:
        # blingfire treats a single newline as a boundary; keep it, it separates lines in news.
        if end > start and text[start:end].strip():
            result.append((start + offset, end + offset))
    return result


def word_spans(text: str, offset: int = 0) -> list[tuple[int, int]]:
    return [(m.start() + offset, m.end() + offset) for m in _WORD.finditer(text)]
