"""Does a text say what a claim says? Used to re-ground paraphrased quotes and to check that the
model's answer sentences rest on their citations.

The score averages word overlap (the share of the claim's content terms the text contains) and
dense similarity (MiniLM cosine): overlap alone misses synonyms, cosine alone misses a changed
name. Both are blind to negation and to changed numbers, so those are vetoes, not scores:
"Belarus refused to offer agricultural machinery" shares every word with the sentence that says
the opposite. Thresholds are chosen on evals/datasets/quotes.jsonl (docs/design.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag import tuning
from rag.terms import content_terms, named_terms, stem, words

Embed = Callable[[list[str]], np.ndarray]


class CachedEmbed:
    """One answer's embeddings: texts seen before are not embedded again, and `prefetch` embeds
    many texts in one call (one model run per batch instead of per sentence)."""

    def __init__(self, embed: Embed) -> None:
        self._embed = embed
        self._vectors: dict[str, np.ndarray] = {}

    def prefetch(self, texts: Sequence[str]) -> None:
        todo = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if todo:
            self._vectors.update(zip(todo, self._embed(todo), strict=True))

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.prefetch(texts)
        return np.stack([self._vectors[t] for t in texts])

_NEGATION = frozenset("""
not no never none nobody nothing neither nor without cannot unable refuse refused refuses refusing
decline declined declines declining deny denied denies reject rejected rejects fail failed fails
halt halted suspend suspended cancel cancelled canceled ban banned oppose opposed lack lacked
instead rather
""".split())
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NUMBER_WORDS = {
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20",
    "thirty": "30", "forty": "40", "fifty": "50", "hundred": "100", "thousand": "1000",
    "million": "1000000", "billion": "1000000000", "dozen": "12",
}


# A claim that moves a figure the other way ("fell" for "rose") shares every other word.
_UP = frozenset(stem(w) for w in """rise rose risen rising increase increased grow grew grown gain gained climb
climbed jump jumped surge surged higher up more expand expanded boost boosted raise raised""".split())
_DOWN = frozenset(stem(w) for w in """fall fell fallen falling decrease decreased decline declined drop dropped
shrink shrank lose lost lower down less fewer cut reduce reduced slump slumped plunge plunged""".split())


@dataclass(frozen=True)
class ClaimParams:
    repair: float = tuning.REPAIR  # a paraphrased quote is re-grounded at or above this
    support: float = tuning.SUPPORT  # an answer sentence is supported at or above this
    min_shared: int = tuning.MIN_SHARED  # content terms a claim must share with the text at least
    sure_overlap: float = tuning.SURE_OVERLAP  # a sentence whose quotes hold this share of its terms needs no embedding


def negations(text: str) -> frozenset[str]:
    found = set()
    for w in words(text.lower().replace("’", "'")):
        if w.endswith("n't") or w == "n't":
            found.add("not")
        elif w in _NEGATION:
            found.add(w)
    return frozenset(found)


def numbers(text: str) -> frozenset[str]:
    found = {m.replace(",", "") for m in _NUMBER.findall(text)}
    found |= {_NUMBER_WORDS[w] for w in words(text.lower()) if w in _NUMBER_WORDS}
    return frozenset(found)


def _direction(text: str) -> tuple[bool, bool]:
    stems = {stem(w) for w in words(text.lower())}
    return bool(stems & _UP), bool(stems & _DOWN)


def _opposite_direction(claim: str, text: str) -> bool:
    claim_up, claim_down = _direction(claim)
    text_up, text_down = _direction(text)
    return (claim_up and not claim_down and text_down and not text_up) or \
        (claim_down and not claim_up and text_up and not text_down)


def overlap(claim_terms: set[str], text_terms: set[str]) -> float:
    return len(claim_terms & text_terms) / len(claim_terms) if claim_terms else 0.0


def vetoed(claim: str, text: str, names_from: str = "") -> bool:
    """A changed polarity, a number the text does not contain, or a name found in neither the text
    nor `names_from` (the article: a paraphrase may name what the sentence calls "the region")."""
    if bool(negations(claim)) != bool(negations(text)) or _opposite_direction(claim, text):
        return True
    if not numbers(claim) <= numbers(text):
        return True
    return not names_covered(named_terms(claim), content_terms(text) | content_terms(names_from))


def names_covered(names: set[str], terms: set[str]) -> bool:
    """Each name occurs, allowing for derived forms (Russia/Russian, Belarus/Belarusian)."""
    return all(n in terms or any(len(n) >= 4 and (t.startswith(n) or n.startswith(t)) and len(t) >= 4
                                 for t in terms) for n in names)


def best_match(claim: str, texts: Sequence[str], embed: Embed | None, params: ClaimParams,
               names_from: Sequence[str] = ()) -> tuple[int, float] | None:
    """The index and score of the text that best says what `claim` says, vetoes applied;
    `names_from[i]` is where else text i's names may come from (its article)."""
    claim_terms = content_terms(claim)
    lexical = []
    for i, text in enumerate(texts):
        terms = content_terms(text)
        context = names_from[i] if names_from else ""
        if len(claim_terms & terms) >= params.min_shared and not vetoed(claim, text, context):
            lexical.append((overlap(claim_terms, terms), i))
    if not lexical:
        return None
    lexical.sort(reverse=True)
    top = lexical[:5]
    if embed is None:
        score, i = top[0]
        return i, score
    vectors = embed([claim] + [texts[i] for _, i in top])
    dense = vectors[1:] @ vectors[0]
    scored = [((lex + float(cos)) / 2, i) for (lex, i), cos in zip(top, dense, strict=True)]
    score, i = max(scored)
    return i, score


def supported(sentence: str, quotes: Sequence[str], embed: Embed | None, params: ClaimParams,
              question: str = "") -> bool:
    """An answer sentence is supported when its quotes, taken together, say what it says.
    The question may supply names and numbers ("How many buses did Minsk ship?")."""
    if not quotes:
        return False
    union = " ".join(quotes)
    if not numbers(sentence) <= numbers(union) | numbers(question):
        return False
    if not names_covered(named_terms(sentence), content_terms(union) | content_terms(question)):
        return False
    if (negations(sentence) and not negations(union)) or _opposite_direction(sentence, union):
        return False
    lexical = overlap(content_terms(sentence), content_terms(union) | content_terms(question))
    if embed is None or lexical >= params.sure_overlap:
        return lexical >= params.support
    vectors = embed([sentence, *quotes])
    dense = float(max(vectors[1:] @ vectors[0]))
    return (lexical + dense) / 2 >= params.support
