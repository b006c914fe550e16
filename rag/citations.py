"""Locating quotes in article text, tolerant of typography, exact in what it returns.

Matching normalises typographic vs straight quotes and apostrophes, dashes, runs of whitespace,
invisible characters and case; the span it returns is in the original text, so
`text[start:end]` is what the article really says.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

_FOLD = {
    **dict.fromkeys("‘’‚‛′`´", "'"),
    **dict.fromkeys("“”„‟″«»", '"'),
    **dict.fromkeys("‐‑‒–—―−", "-"),
    "…": "...",
}
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")


@dataclass(frozen=True)
class Normalised:
    text: str
    origin: list[int]  # origin[i] = index in the original of normalised char i


@lru_cache(maxsize=512)
def normalise(text: str) -> Normalised:
    """Folded text and its map back to the original (cached: articles are folded once per process;
    callers must not mutate the result)."""
    return _normalise(text)


def _normalise(text: str) -> Normalised:
    out: list[str] = []
    origin: list[int] = []
    pending_space = False
    for i, ch in enumerate(text):
        if ch in _INVISIBLE:
            continue
        if ch.isspace():
            pending_space = bool(out)
            continue
        if pending_space:
            out.append(" ")
            origin.append(i - 1)
            pending_space = False
        folded = _FOLD.get(ch, ch).lower()
        out.extend(folded)
        origin.extend([i] * len(folded))
    return Normalised("".join(out), origin)


def locate(text: str, quote: str, haystack: Normalised | None = None) -> tuple[int, int] | None:
    """The span of `text` that `quote` matches after normalisation, or None."""
    needle = normalise(quote).text
    if not needle:
        return None
    hay = haystack or normalise(text)
    at = hay.text.find(needle)
    if at < 0:
        return None
    return hay.origin[at], hay.origin[at + len(needle) - 1] + 1
