"""Answer-level checks: does a sentence answer *this* question, not merely share its words?

Used by both answerers. A claim and the sentences it cites can share every word and still differ
where it matters: "the meeting lasted 2 days" is not supported by "... in Minsk on 2 May". So:
- **quantities line up**: each number the claim states must be in the cited text with the same
  role: a duration ("2 days") is matched only by a duration of the same value and unit, a date
  ("2 May", "2024") by a date, a share ("5%") by a share, money by money, a plain count by a
  count; the question may supply a quantity too ("How many buses did Minsk ship in 2024?");
- **the expected answer type is present**: "how many" needs a count or amount, "how long did it
  last" a duration, "when" a date, "who" a person's name, "why" a reason, and a "which kinds" /
  "what ... offer" question more than one item.

Pure functions of text (no model): the shared grammar for the expected type lives here, beside
`evidence.answer_type`, which it refines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answering.evidence import AMOUNT_Q, asks_when
from rag.terms import STOP_WORDS, content_terms, words

_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "fifteen": "15",
    "twenty": "20", "thirty": "30", "forty": "40", "fifty": "50", "hundred": "100",
    "thousand": "1000", "million": "1000000", "billion": "1000000000", "dozen": "12",
    "a": "1", "an": "1",  # "a week", "an hour": counted only before a unit (see _quantity)
}
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "k": 1e3, "m": 1e6, "bn": 1e9}
_DURATION_UNITS = {
    "second": "second", "minute": "minute", "hour": "hour", "day": "day", "night": "day",
    "week": "week", "fortnight": "week", "month": "month", "year": "year", "decade": "year",
    "century": "year",
}
MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split())
_WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
_CURRENCY_WORDS = frozenset(
    "dollar dollars euro euros pound pounds rouble roubles ruble rubles yuan yen rupee rupees "
    "franc francs usd eur gbp rub cny".split())
_CURRENCY_SIGNS = "$€£₽¥₹"
_PERCENT_WORDS = frozenset(("percent", "per cent", "%", "percentage", "pct"))
# A number token: 1,000 / 2.5 / 3 / 1990s / 10th; the unit is read from what follows.
_TOKEN = re.compile(r"[$€£₽¥₹]?\d+(?:[.,]\d+)*(?:st|nd|rd|th|s)?%?|[^\W\d_]+(?:[’'-][^\W\d_]+)*|%", re.UNICODE)
_YEAR = re.compile(r"^(1[89]\d\d|20\d\d)s?$")


@dataclass(frozen=True)
class Quantity:
    """A number and the role it plays: duration (with its unit), date, percent, money or count."""

    value: str
    kind: str
    unit: str = ""

    def matches(self, other: Quantity) -> bool:
        if self.value != other.value:
            return False
        if self.kind == "count" or other.kind == "count":
            # "2,000 tonnes" and "2,000" are the same count; a date or duration is not a count.
            return {self.kind, other.kind} <= {"count", "money", "percent"}
        return self.kind == other.kind and (self.kind != "duration" or self.unit == other.unit)


def _value(token: str) -> str | None:
    raw = token.lstrip(_CURRENCY_SIGNS).rstrip("%").lower()
    raw = re.sub(r"(?<=\d)(st|nd|rd|th)$", "", raw)
    raw = raw[:-1] if raw.endswith("s") and raw[:-1].isdigit() else raw
    if raw in _NUMBER_WORDS:
        return _NUMBER_WORDS[raw]
    if not raw or not raw[0].isdigit():
        return None
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", raw):
        raw = raw.replace(",", "")
    raw = raw.replace(",", ".")
    try:
        number = float(raw)
    except ValueError:
        return None
    return str(int(number)) if number.is_integer() else f"{number:.6g}"


def quantities(text: str) -> list[Quantity]:
    """The quantities `text` states, each with its role."""
    tokens = _TOKEN.findall(text)
    lower = [t.lower() for t in tokens]
    found: list[Quantity] = []
    i = 0
    while i < len(tokens):
        token, word = tokens[i], lower[i]
        value = _value(token)
        is_word = word in _NUMBER_WORDS
        if value is None or (word in ("a", "an") and not _unit_after(lower, i)):
            i += 1
            continue
        nxt = lower[i + 1] if i + 1 < len(lower) else ""
        prev = lower[i - 1] if i else ""
        # "2.5 million", "3 billion": one value
        if nxt in _SCALE and not is_word:
            scaled = float(value) * _SCALE[nxt]
            value = str(int(scaled)) if scaled.is_integer() else f"{scaled:.6g}"
            i += 1
            nxt = lower[i + 1] if i + 1 < len(lower) else ""
        padded = nxt in ("more", "full", "straight", "consecutive") and i + 2 < len(lower)
        unit = _duration_unit(nxt) or (_duration_unit(lower[i + 2]) if padded else None)
        if token[:1] in _CURRENCY_SIGNS or nxt in _CURRENCY_WORDS or prev in ("usd", "eur", "gbp", "rub"):
            found.append(Quantity(value, "money"))
        elif token.endswith("%") or nxt in _PERCENT_WORDS or (nxt == "per" and i + 2 < len(lower)
                                                               and lower[i + 2] == "cent"):
            found.append(Quantity(value, "percent"))
        elif unit:
            found.append(Quantity(value, "duration", unit))
        elif not is_word and (nxt in MONTHS or prev in MONTHS or _YEAR.match(word)
                              or (nxt == "of" and i + 2 < len(lower) and lower[i + 2] in MONTHS)):
            found.append(Quantity(value, "date"))
        elif word not in ("a", "an"):
            found.append(Quantity(value, "count"))
        i += 1
    return found


def _duration_unit(word: str) -> str | None:
    w = word.removesuffix("-long")
    for suffix in ("s", "ly"):
        if w.endswith(suffix) and w[: -len(suffix)] in _DURATION_UNITS:
            w = w[: -len(suffix)]
    if w == "centuries":
        w = "century"
    return _DURATION_UNITS.get(w)


def _unit_after(lower: list[str], i: int) -> bool:
    return i + 1 < len(lower) and _duration_unit(lower[i + 1]) is not None


def misaligned(claim: str, cited: str, question: str = "") -> str | None:
    """Why the claim's quantities do not line up with the cited text's, or None when they do."""
    have = quantities(cited) + quantities(question)
    for q in quantities(claim):
        if not any(q.matches(h) for h in have):
            same_value = [h for h in have if h.value == q.value]
            what = f"{q.value} {q.unit}s" if q.kind == "duration" else q.value
            if same_value:
                return f"it states {what} as a {q.kind}, the cited text as a {same_value[0].kind}"
            return f"the cited text does not state {what}"
    return None


# --- the expected answer type -------------------------------------------------------------------

_HOW_MANY = re.compile(rf"\bhow (many|much)\b|\b(?:{AMOUNT_Q})", re.I)
_HOW_LONG = re.compile(r"\bhow long\b|\bfor how (many|much) (\w+ )?(years|months|weeks|days|hours|minutes)\b", re.I)
_DURATION_VERBS = re.compile(r"\b(last|lasts|lasted|take|takes|took|taken|run|runs|ran|serve|serves|served|stay|"
                             r"stayed|wait|waited|continue|continued|remain|remained|been|spend|spent|go on|went on|"
                             r"sentenced|jailed|imprisoned|banned|suspended|closed|delayed)\b", re.I)
_WHY = re.compile(r"^\s*(why\b|for what reason\b|what (is|was|are|were) the reasons?\b|what (led|prompted|caused)\b)",
                  re.I)
_KINDS = re.compile(r"^\s*(what|which)\s+(kinds?|types?|sorts?)\s+of\b|^\s*(what|which)\b.*\b(offer\w*|propos\w*|"
                    r"areas|kinds|types|products|goods|sectors|fields|measures|steps)\b|^\s*(what|which)\s+(\w+\s+){0,2}?"
                    r"(vehicles|products|goods|items|services|areas|sectors|fields|industries|crops|foods|machines|"
                    r"machinery|equipment|projects|commodities)\s+(do|does|did|will|would|can|could)\b", re.I)
_WHO = re.compile(r"^\s*(who|whom|whose)\b", re.I)
_REASON = re.compile(
    r"\b(because|due to|owing to|thanks to|as a result|result of|since|so that|so as to|in order|in a bid|"
    r"aim\w*|seek\w*|sought|want\w*|hope\w*|plan\w* to|intend\w*|interest\w*|to (help|boost|ensure|avoid|"
    r"reduce|protect|increase|improve|expand|develop|attract|secure|support|strengthen|promote|meet|cut|"
    r"prevent|allow|enable|deliver|supply|ship|use|gain|access|reach|export|import)|for the purpose|after|"
    r"amid|following|citing|cited|blam\w*|caus\w*|led to|lead to|driven by|prompted|reason|why|need\w*|"
    r"requir\w*|demand|benefit\w*|advantage\w*|allow\w*|enabl\w*|help\w*|would|could|will)\b", re.I)


# The types an answer is refused without: they are plainly marked in text.
STRICT = frozenset({"count", "duration", "date", "person"})


def expected(question: str) -> str | None:
    """What a right answer must hold: count, duration, date, person, reason, items, or None
    (`evidence.answer_type` adds "name" for "which company/country ..." questions)."""
    if _HOW_LONG.search(question):
        return "duration" if _DURATION_VERBS.search(question) or re.search(r"\bfor how\b", question, re.I) else "count"
    if _HOW_MANY.search(question):
        return "count"
    if asks_when(question):  # the one "when" grammar (evidence.py)
        return "date"
    if _WHY.search(question):
        return "reason"
    if _WHO.search(question):
        return "person"
    if _KINDS.search(question):
        return "items"
    return None


def holds(text: str, wanted: str, question: str) -> bool:
    """Whether `text` (an answer, or the sentences it cites) holds a thing of type `wanted` that the
    question does not already say."""
    asked_words = {w.lower() for w in words(question)}
    asked_quantities = quantities(question)
    found = [q for q in quantities(text) if not any(q.matches(a) for a in asked_quantities)]
    if wanted == "count":
        return any(q.kind in ("count", "money", "percent") for q in found) or any(
            w.lower() in ("dozens", "hundreds", "thousands", "millions", "billions", "several", "half")
            and w.lower() not in asked_words for w in words(text))
    if wanted == "duration":
        return any(q.kind == "duration" for q in found) or bool(
            re.search(r"\b(overnight|all day|all night|for (years|months|weeks|days|hours|decades))\b", text, re.I))
    if wanted == "date":
        lowered = [w.lower() for w in words(text)]
        return any(q.kind == "date" for q in found) or any(
            (w in MONTHS or w in _WEEKDAYS or w in ("today", "yesterday", "tomorrow")) and w not in asked_words
            for w in lowered) or any(q.kind == "count" and len(q.value) <= 2 for q in found)
    if wanted in ("person", "name"):
        return any(i > 0 and w[:1].isupper() and w.lower() not in STOP_WORDS and w.lower() not in asked_words
                   and w.lower() not in MONTHS for i, w in enumerate(words(text)))
    if wanted == "reason":
        return bool(_REASON.search(text))
    if wanted == "items":
        return item_count(text, question) >= 2
    return True


def item_count(text: str, question: str) -> int:
    """How many things the answer names that the question does not: list lines, or the parts of an
    enumeration ("buses, trolleybuses and trams") that add a content word of their own."""
    asked = content_terms(question)
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        parts = lines
    else:
        parts = re.split(r",|;|\band\b|\bas well as\b|\bor\b|\bplus\b", text)
    return sum(1 for p in parts if content_terms(p) - asked)


def things(text: str, question: str) -> set[str]:
    """What `text` names that the question does not: capitalised words past a sentence's first
    (lower-cased) and the values of its quantities. What two answers must share to agree."""
    asked = {w.lower() for w in words(question)} | {q.value for q in quantities(question)}
    found = {q.value for q in quantities(text)}
    for sentence in re.split(r"(?<=[.!?])\s+|\n", text):
        found |= {w.lower() for i, w in enumerate(words(sentence)) if i > 0 and w[:1].isupper()
                  and w.lower() not in STOP_WORDS and w.lower() not in MONTHS}
    return found - asked


def agree(answer: str, evidence: str, question: str) -> bool:
    """Whether an answer's things (names, numbers) are among the evidence's: for a question that
    asks for one (who, which company, how many, when), an answer naming none of them answers
    something else."""
    mine = things(answer, question)
    if not mine:
        return True
    theirs = {q.value for q in quantities(evidence)} | {w.lower() for w in words(evidence)}
    return bool(mine & theirs)
