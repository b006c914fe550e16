"""Content terms of a text: lower-cased words, stop words dropped, plural and verb endings cut."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"[^\W_]+(?:[’'][^\W_]+)*", re.UNICODE)

STOP_WORDS = frozenset("""
a about above after again against all also am an and any are aren as at be because been before
being below between both but by can cannot could couldn did didn do does doesn doing don down during
each few for from further had hadn has hasn have haven having he her here hers herself him himself his
how i if in into is isn it its itself just let me more most much my myself no nor not now of off on
once only or other ought our ours ourselves out over own same shan she should shouldn so some such
than that the their theirs them themselves then there these they this those through to too under
until up upon very was wasn we were weren what when where which while who whom whose why will with
won would wouldn you your yours yourself yourselves s t ll ve re d m
tell say said says according many kind ever
""".split())

QUESTION_WORDS = frozenset("what which who whom whose when where why how".split())


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix stemmer: enough to match offer/offers/offered and plant/plants."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not w.endswith("ss"):
            w = w[: -len(suffix)] + keep
            break
    # use/used, produce/produced: drop a final e so both forms meet
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def stems_of(text: str) -> str:
    """A text as the BM25 index holds it: its words' stems, space-separated (rag/lexical.py)."""
    return " ".join(filter(None, map(fts_token, words(text))))


@lru_cache(maxsize=262_144)  # words repeat (Zipf): a new replica's load stems each distinct one once
def fts_token(word: str) -> str:
    """A stem as FTS5's unicode61 tokenizer will store it: no apostrophes, no diacritics."""
    plain = unicodedata.normalize("NFKD", stem(word))
    return "".join(ch for ch in plain if ch.isalnum())


def content_terms(text: str) -> set[str]:
    return set(_content_terms(text))


@lru_cache(maxsize=32768)
def _content_terms(text: str) -> frozenset[str]:
    return frozenset(stem(w) for w in words(text) if w.lower() not in STOP_WORDS and len(w) > 1 or w.isdigit())


def named_terms(question: str) -> set[str]:
    """Capitalised words past the first word: names the answer must be about. A single letter is
    no name ("a government U-turn")."""
    found = set()
    for i, w in enumerate(words(question)):
        if i > 0 and len(w) > 1 and w[:1].isupper() and w.lower() not in STOP_WORDS:
            found.add(stem(w))
    return found
