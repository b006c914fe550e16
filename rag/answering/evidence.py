"""Does the retrieved evidence answer this question? Signals and a fitted refusal decision.

A single score does not separate answerable from unanswerable real-news questions (the top dense
cosine reaches AUC 0.86 and catches 42% of the unanswerable ones at 5% false refusals). What helps
is whether the candidate article is about *this* event: the question's names, numbers and content
words in it, whether retrieval's two sides agree on it, how far it stands out from the next
article, and whether the sentence that would be quoted holds a thing of the asked type.

`assess` turns these signals into a probability that the evidence answers the question with a
logistic model whose coefficients are fitted by `python -m rag.fit refusal` into rag/tuning.py
(real news from ../shared/data/news-dev plus the project's synthetic sets; docs/design.md has the
curve and the operating point). The LLM path can use the same function to ask "does this evidence answer it?".
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date

from rag import tuning
from rag.terms import STOP_WORDS, content_terms, named_terms, stem, words
from rag.types import RetrievedChunk

# --- answer types ------------------------------------------------------------------------------

# "What was the price ...", "what share ...": an amount asked for by name (checks.py reads it anywhere).
AMOUNT_Q = (r"(what|which) (is|was|were|are) the (value|number|amount|price|cost|size|population|share|"
            r"percentage|rate|total|volume)\b|what (price|percentage|share|amount)\b")
_NUMBER_Q = re.compile(rf"^\s*(how (many|much|long|often|far|old|big|large|high)\b|{AMOUNT_Q})", re.I)
# The one "when" grammar. The answer type reads "In what year ...?" as no type (`asks_when(q,
# with_in=False)`); the LLM answers' relevance check as a date question. Making them agree changes
# the extractive answer to "In which year did women first compete in the modern Olympics?"
# (evals), a behaviour change left out of the restructuring of issue 24.
_WHEN_Q = re.compile(r"^\s*(when\b|since when\b|(?P<prep>in |on )?(what|which) (date|day|year|month)\b)", re.I)
_PERSON_Q = re.compile(
    r"^\s*(who|whom|whose)\b|\b(which|what) (\w+ )?(person|man|woman|leader|president|politician|"
    r"official|actor|actress|singer|star|player|athlete|celebrity|ceo|executive|billionaire|author|"
    r"judge|senator|lawmaker|governor|candidate|minister|artist|rapper|musician|comedian|coach|"
    r"founder|journalist|director|pope|king|queen|prince|princess|figure)\b", re.I)
_NAME_Q = re.compile(
    r"\b(which|what) (\w+ )?(company|companies|country|countries|nation|state|city|cities|team|"
    r"organi[sz]ation|brand|firm|airline|agency|network|university|school|island|region|province|"
    r"continent|airport|app|platform|retailer|automaker|carmaker|bank|store|chain|group|party|"
    r"league|club|show|series|film|movie|book|song|album|band|game|event|river|lake|mountain|"
    r"volcano|planet|tournament|award|magazine|newspaper|website|service|language|capital|"
    r"restaurant|stadium|county|town|hurricane|storm|ship|device|product|car|rocket|spacecraft|"
    r"mission|court|department|body|institution|channel)\b", re.I)
NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty "
    "hundred hundreds thousand thousands million millions billion billions dozen dozens percent "
    "half quarter".split())
MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday "
    "saturday sunday today yesterday tomorrow".split())


def answer_type(question: str) -> str | None:
    """What kind of thing the question asks for: number, date, person, name, or None (anything)."""
    if _NUMBER_Q.search(question):
        return "number"
    if asks_when(question, with_in=False):
        return "date"
    if _PERSON_Q.search(question):
        return "person"
    if _NAME_Q.search(question):
        return "name"
    return None


def asks_when(question: str, with_in: bool = True) -> bool:
    """A "when" question: "When ...", "Since when ...", "On what day ...", and (`with_in`) "In what year ..."."""
    m = _WHEN_Q.search(question)
    return m is not None and (with_in or (m.group("prep") or "").lower() != "in ")


def has_type(text: str, wanted: str, asked: set[str]) -> bool:
    """Whether `text` holds a thing of type `wanted` that the question (`asked`, lower-cased words)
    does not already say: a number, a date word, or a name (a capitalised word past the first)."""
    for i, w in enumerate(words(text)):
        lw = w.lower()
        if lw in asked:
            continue
        if wanted in ("number", "date"):
            if any(ch.isdigit() for ch in w) or (wanted == "number" and lw in NUMBER_WORDS):
                return True
            if wanted == "date" and lw in MONTHS:
                return True
        elif i > 0 and w[:1].isupper() and lw not in STOP_WORDS and lw not in MONTHS:
            return True
    return False


# --- signals -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Signals:
    top_dense: float          # best cosine of any retrieved chunk
    article_dense: float      # best cosine of the candidate article
    margin: float             # ... over the best cosine of any other article
    lexical: float            # 1 / BM25 rank of the candidate article's best chunk (0: not found lexically)
    coverage: float           # rarity-weighted share of question terms in the article's retrieved text
    sentence_coverage: float  # ... in the sentence that would be quoted
    names: float              # share of the question's names in the article (1 when it names none)
    numbers: float            # share of the question's numbers in the article (1 when it has none)
    answer_type: float        # the sentence holds a thing of the asked type (1 when no type is asked)
    stale: float              # the article is more than a week older than the question (0 when its date is unknown)

    def vector(self) -> tuple[float, ...]:
        return tuple(asdict(self).values())


FEATURES = tuple(Signals.__dataclass_fields__)

# The fitted models and the hand-set rule's thresholds: rag/tuning.py (`python -m rag.fit refusal`).


@dataclass(frozen=True)
class Assessment:
    signals: Signals
    probability: float
    missing_names: tuple[str, ...]
    dated: bool = False  # judged by the model for questions with a known date
    hand_rule: str | None = None  # undated: why the hand-set rule refuses

    @property
    def threshold(self) -> float:
        return (tuning.REFUSAL_DATED if self.dated else tuning.REFUSAL_UNDATED).threshold

    @staticmethod
    def feature_names() -> tuple[str, ...]:
        return FEATURES

    def answers(self, threshold: float | None = None) -> bool:
        """Whether to answer; with `threshold`, by the probability alone (for fitting)."""
        if threshold is not None:
            return self.probability >= threshold
        return self.probability >= self.threshold and (self.dated or self.hand_rule is None)

    def reason(self, wanted: str | None) -> str:
        """Why the evidence falls short, in words: the signal that pulled the probability down most."""
        if self.hand_rule and self.probability >= self.threshold:
            return self.hand_rule
        return f"{self.why(wanted)} (evidence score {self.probability:.2f} < {self.threshold})"

    def why(self, wanted: str | None) -> str:
        """The signal that pulled the evidence model's probability down most, in words."""
        s = self.signals
        coefficients = (tuning.REFUSAL_DATED if self.dated else tuning.REFUSAL_UNDATED).coefficients
        pulls = {name: coef * (value - 1.0) for name, coef, value in zip(FEATURES, coefficients, s.vector(),
                                                                          strict=True)}
        pulls["stale"] = coefficients[-1] * s.stale
        weakest = min(pulls, key=lambda n: pulls[n])
        if weakest == "stale":
            why = f"the sources are more than {tuning.EVIDENCE_STALE_DAYS} days older than the question"
        elif weakest == "names" and self.missing_names:
            why = f"the sources do not mention {', '.join(self.missing_names)}"
        elif weakest == "answer_type" and wanted:
            why = f"no {wanted} the question asks for in the sources"
        elif weakest == "numbers":
            why = "the sources do not have the question's numbers or dates"
        elif weakest in ("top_dense", "article_dense"):
            why = "nothing retrieved is close to the question"
        elif weakest == "margin":
            why = "no source stands out from the others"
        elif weakest == "lexical":
            why = "the sources share few of the question's words"
        else:
            why = "the sources do not say"
        return why


def dense(chunk: RetrievedChunk) -> float:
    """The chunk's cosine to the question, whatever order retrieval put it in."""
    return chunk.dense_score if chunk.dense_score is not None else chunk.score


def rarity(q_terms: set[str], chunk_terms: Sequence[set[str]]) -> dict[str, float]:
    n = len(chunk_terms)
    return {t: math.log(1 + (n + 1) / (sum(t in ct for ct in chunk_terms) + 0.5)) for t in q_terms}


def coverage(found: set[str], weights: dict[str, float]) -> float:
    total = sum(weights.values())
    return sum(weights[t] for t in found) / total if total else 0.0


_NUMBER = re.compile(r"\d[\d,.]*")


def assess(question: str, chunks: Sequence[RetrievedChunk], article_id: str, sentence: str,
           wanted: str | None = None, as_of: str | None = None) -> Assessment:
    """How well `chunks` (as retrieved for `question`) answer it, quoting `sentence` from `article_id`.

    `as_of` (YYYY-MM-DD) is the day the question was asked, when the asker said so (a dataset's
    `as_of`, an explicit --as-of): not a default "today", which says nothing about what is asked."""
    q_terms = content_terms(question)
    weights = rarity(q_terms, [content_terms(c.text) for c in chunks])
    mine = [c for c in chunks if c.article_id == article_id]
    others = [dense(c) for c in chunks if c.article_id != article_id]
    article_text = " ".join(c.text for c in mine)
    article_terms = content_terms(article_text)
    article_dense = max((dense(c) for c in mine), default=0.0)
    lexical_ranks = [c.lexical_rank for c in mine if c.lexical_rank]
    names = named_terms(question)
    missing = names - article_terms
    numbers = {n.strip(".,") for n in _NUMBER.findall(question)}
    lowered = article_text.lower()
    asked = {w.lower() for w in words(question)}
    signals = Signals(
        top_dense=max((dense(c) for c in chunks), default=0.0),
        article_dense=article_dense,
        margin=article_dense - max(others, default=0.0),
        lexical=1.0 / min(lexical_ranks) if lexical_ranks else 0.0,
        coverage=coverage(q_terms & article_terms, weights),
        sentence_coverage=coverage(q_terms & content_terms(sentence), weights),
        names=1 - len(missing) / len(names) if names else 1.0,
        numbers=sum(n in lowered for n in numbers) / len(numbers) if numbers else 1.0,
        answer_type=float(has_type(sentence, wanted, asked)) if wanted else 1.0,
        stale=_stale(as_of, [c.published_at for c in mine]),
    )
    # the names as the question writes them, for the reason
    missing_words = tuple(sorted({w for w in words(question) if stem(w) in missing and w[:1].isupper()}))
    model = tuning.REFUSAL_DATED if as_of else tuning.REFUSAL_UNDATED
    hand_rule = None
    if signals.top_dense < tuning.MIN_DENSE:
        hand_rule = "nothing retrieved is close to the question"
    elif signals.article_dense < tuning.STRONG_DENSE:
        if missing_words:
            hand_rule = f"the sources do not mention {', '.join(missing_words)}"
        elif signals.coverage < tuning.MIN_COVERAGE:
            hand_rule = "the sources do not say"
    p = probability(signals, model.intercept, model.coefficients)
    return Assessment(signals, p, missing_words, bool(as_of), hand_rule)


def _stale(as_of: str | None, published: Sequence[str | None]) -> float:
    dates = [p for p in published if p]
    if not as_of or not dates:
        return 0.0
    try:
        age = (date.fromisoformat(as_of[:10]) - date.fromisoformat(max(dates)[:10])).days
    except ValueError:
        return 0.0
    return float(age > tuning.EVIDENCE_STALE_DAYS)


def probability(signals: Signals, intercept: float, coefficients: Sequence[float]) -> float:
    z = intercept + sum(c * x for c, x in zip(coefficients, signals.vector(), strict=True))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
