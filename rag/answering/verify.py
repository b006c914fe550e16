"""Checking the model's quotes against the articles. Nothing reaches the user unless found there.

For each quote, in order:
1. found as written (after folding typography, whitespace and case) in the source it names, or
   anywhere in that article: `verbatim`; in another retrieved article: `reattributed`;
2. shortened with an ellipsis: every part found, in order, close together in one article:
   one verbatim (or reattributed) span per part;
3. stitched from runs of words that no single sentence holds: dropped (a "frankenquote");
4. a close paraphrase of one sentence of the sources (claims.best_match, negation and number
   vetoes): that real sentence, `repaired`;
5. anything else: dropped, counted as fabricated.
Every span returned slices the original article text exactly.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from rag import tuning
from rag.answering.claims import ClaimParams, Embed, best_match
from rag.answering.reply import DraftQuote
from rag.answering.sources import Source
from rag.citations import Normalised, normalise
from rag.sentences import split_sentences
from rag.terms import stem, words

Kind = Literal["verbatim", "reattributed", "repaired"]
# Thresholds (hand-set, rag/tuning.py): shorter quotes than MIN_WORDS match almost anywhere and
# prove nothing; MIN_RUN words in a row count as copied from one place; MIN_COPIED of a quote's
# words in such runs makes it a copy, not a paraphrase; an ellipsis may skip ELLIPSIS_SPREAD characters.
MIN_WORDS = tuning.MIN_WORDS
MIN_RUN = tuning.MIN_RUN
MIN_COPIED = tuning.MIN_COPIED
ELLIPSIS_SPREAD = tuning.ELLIPSIS_SPREAD
_ELLIPSIS = re.compile(r"\s*(?:\[\s*(?:\.\.\.|…)\s*\]|\.\.\.|…)\s*")


@dataclass(frozen=True)
class Span:
    article_id: str
    start: int
    end: int
    kind: Kind


@dataclass(frozen=True)
class Checked:
    draft: DraftQuote
    spans: tuple[Span, ...]  # empty: dropped
    reason: str = ""  # why it was dropped


class _Article:
    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def folded(self) -> Normalised:
        return normalise(self.text)

    @cached_property
    def sentences(self) -> list[tuple[int, int]]:
        return split_sentences(self.text)

    def find_all(self, needle: str, start: int = 0) -> list[tuple[int, int]]:
        hay, spans = self.folded, []
        at = hay.text.find(needle, start)
        while at >= 0:
            spans.append((hay.origin[at], hay.origin[at + len(needle) - 1] + 1))
            at = hay.text.find(needle, at + 1)
        return spans

    @cached_property
    def subjects(self) -> str:
        """Names the article mentions at least twice: what it is about. A paraphrase may name
        these where its sentence says "the region"; a name mentioned once elsewhere is no licence."""
        names = [w for w in words(self.text) if w[:1].isupper()]
        counts = Counter(stem(w) for w in names)
        return " ".join(w for w in dict.fromkeys(names) if counts[stem(w)] >= 2)

    def sentence_at(self, offset: int) -> int:
        for i, (s, e) in enumerate(self.sentences):
            if s <= offset < e:
                return i
        return -1


class QuoteVerifier:
    def __init__(self, sources: Sequence[Source], texts: dict[str, str], embed: Embed | None,
                 params: ClaimParams = ClaimParams()) -> None:
        self.sources = list(sources)
        self.articles = {s.article_id: _Article(texts[s.article_id]) for s in sources if s.article_id in texts}
        self.embed = embed
        self.params = params
        self._checked: dict[DraftQuote, Checked] = {}
        self.last_repair_score: float | None = None  # for the quote-repair eval

    def check(self, draft: DraftQuote) -> Checked:
        if draft not in self._checked:
            self._checked[draft] = self._check(draft)
        return self._checked[draft]

    def _check(self, draft: DraftQuote) -> Checked:
        needle = normalise(draft.text).text.strip(" .,;:")
        if len(needle.split()) < MIN_WORDS:
            return Checked(draft, (), "too short to check")
        cited = self._cited(draft)
        order = self._article_order(cited)
        for article_id in order:
            spans = self._in_source_first(article_id, needle)
            if spans:
                return Checked(draft, (Span(article_id, *spans[0], self._kind(article_id, cited)),))
        parts = [p for p in (normalise(x).text.strip(" .,;:") for x in _ELLIPSIS.split(draft.text)) if p]
        if len(parts) > 1:
            return self._ellipsis(draft, parts, order, cited)
        if self._stitched(needle, order):
            return Checked(draft, (), "stitched together from different sentences")
        repaired = self._repair(draft.text, cited)
        if repaired:
            return Checked(draft, (repaired,))
        return Checked(draft, (), "not found in the sources")

    def _cited(self, draft: DraftQuote) -> Source | None:
        return next((s for s in self.sources if s.n == draft.source), None)

    def _article_order(self, cited: Source | None) -> list[str]:
        order = [cited.article_id] if cited and cited.article_id in self.articles else []
        return order + [a for a in self.articles if a not in order]

    def _kind(self, article_id: str, cited: Source | None) -> Kind:
        return "verbatim" if cited is None or cited.article_id == article_id else "reattributed"

    def _in_source_first(self, article_id: str, needle: str) -> list[tuple[int, int]]:
        found = self.articles[article_id].find_all(needle)
        spans = [(s.start, s.end) for s in self.sources if s.article_id == article_id]
        inside = [f for f in found if any(lo <= f[0] and f[1] <= hi for lo, hi in spans)]
        return inside + [f for f in found if f not in inside]

    def _ellipsis(self, draft: DraftQuote, parts: list[str], order: list[str], cited: Source | None) -> Checked:
        if any(len(p.split()) < 2 for p in parts):
            return Checked(draft, (), "an ellipsis part is too short to check")
        for article_id in order:
            article = self.articles[article_id]
            for first in article.find_all(parts[0]):
                spans, at = [first], article.folded.origin.index(first[0])
                for part in parts[1:]:
                    folded_at = article.folded.text.find(part, at + 1)
                    if folded_at < 0:
                        break
                    at = folded_at
                    spans.append((article.folded.origin[at], article.folded.origin[at + len(part) - 1] + 1))
                if len(spans) == len(parts) and spans[-1][1] - spans[0][0] <= ELLIPSIS_SPREAD:
                    kind = self._kind(article_id, cited)
                    return Checked(draft, tuple(Span(article_id, s, e, kind) for s, e in spans))
        return Checked(draft, (), "the parts around the ellipsis are not found together")

    def _stitched(self, needle: str, order: list[str]) -> bool:
        """Mostly copied, in two or more long runs from places no one sentence holds."""
        tokens = needle.split(" ")
        runs: list[set[tuple[str, int]]] = []
        copied = 0
        i = 0
        while i < len(tokens):
            j, where = i, set()
            while j < len(tokens):
                found = self._sentences_with(" ".join(tokens[i: j + 1]), order)
                if not found:
                    break
                j, where = j + 1, found
            if j - i >= MIN_RUN:
                runs.append(where)
                copied += j - i
            i = max(j, i + 1)
        return len(runs) >= 2 and copied >= MIN_COPIED * len(tokens) and not set.intersection(*runs)

    def _sentences_with(self, phrase: str, order: list[str]) -> set[tuple[str, int]]:
        return {(a, self.articles[a].sentence_at(s)) for a in order for s, _ in self.articles[a].find_all(phrase)}

    def _repair(self, quote: str, cited: Source | None) -> Span | None:
        candidates: list[tuple[str, int, int]] = []
        ordered = ([cited] if cited else []) + [s for s in self.sources if s is not cited]
        for source in ordered:
            article = self.articles.get(source.article_id)
            if article is None:
                continue
            for s, e in article.sentences:
                if s < source.end and e > source.start and (source.article_id, s, e) not in candidates:
                    candidates.append((source.article_id, s, e))
        texts = [self.articles[a].text[s:e] for a, s, e in candidates]
        articles = [self.articles[a].subjects for a, _, _ in candidates]
        match = best_match(quote, texts, self.embed, self.params, articles)
        self.last_repair_score = match[1] if match else None
        if match is None or match[1] < self.params.repair:
            return None
        article_id, s, e = candidates[match[0]]
        return Span(article_id, s, e, "repaired")
