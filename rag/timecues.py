"""When a question is about: its time cue, resolved against `as_of`, and the recency prior it sets.

A small regex grammar, not dateparser: news questions use a closed set of phrases ("this week",
"latest", "recently", "new", "in March 2023", "on 2 May", "in 2024"), and `dateparser.search_dates`
both costs milliseconds a question and reads "new", "now" or "may" as dates of its own
(docs/design.md, "Time-aware retrieval", has the measurement). The grammar costs microseconds
and imports nothing heavy.

A cue is one of three kinds, each with its own fitted prior (rag/tuning.py, `python -m rag.fit recency`):
- `recent`: the question asks for what is new as of `as_of` ("latest", "this week", "new", ...);
- `date`: it names a period ("in March 2023", "on 2 May", "last month", "in 2024");
- `none`: no cue; "as of now" is still meant, so a weak prior remains.
An article inside the cue's period gets the whole `weight`; outside it the weight halves every
`half_life` days of distance. Nothing is cut off by the prior: only articles published after
`as_of` are excluded (a filter, see rag/retrieval.py).
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from rag import tuning
from rag.tuning import CueKind, Prior

if TYPE_CHECKING:
    from rag.types import Answer, RetrievedChunk

Kind = CueKind
AsOf = datetime | date | None  # when a question is asked; None means now
# A "latest" answer whose newest source is older than NOTICE_STALE_DAYS (days before as_of) says
# "as of <date>". A "latest" question over news with nothing inside its period: the period moves
# back to the newest candidate scoring within NEAR_BEST of the best one. Both hand-set: rag/tuning.py.
NOTICE_STALE_DAYS = tuning.NOTICE_STALE_DAYS
NEAR_BEST = tuning.NEAR_BEST
_AS_OF = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
# Cues that bound the event to a short period before as_of: evidence from weeks earlier is then
# about another event (the refusal model's staleness signal applies). "now", "latest" or no cue
# do not: older evidence still answers them, with an "as of <date>" notice.
_BOUNDED = re.compile(
    r"\b(?:this (?:week|weekend|morning)|(?:last|past|previous) (?:week|weekend|few days|days)"
    r"|(?:in )?recent (?:days|weeks)|today|tonight|yesterday)\b", re.I)


def bounds_event(question: str) -> bool:
    """Whether the question places its event in the last days before as_of ("this week", "yesterday")."""
    return _BOUNDED.search(question) is not None


# Fitted on ../shared/data/news-dev by `python -m rag.fit recency` into rag/tuning.py (hybrid
# retrieval, weighted fusion, MRR@10 per cue kind); docs/design.md has the grid and the numbers. The
# dev questions without a cue are weekly-quiz questions too, so their fit is as strong as "latest".
PRIORS: dict[Kind, Prior] = tuning.RECENCY_PRIORS

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]
_MONTH = "(" + "|".join(_MONTHS + [m[:3] + r"\.?" for m in _MONTHS if m != "May"]) + ")"
_YEAR = r"((?:19|20)\d\d)"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
# Month names are matched case-sensitively, so the verb "may" is not a month.
_DAY_MONTH = re.compile(rf"\b{_DAY} {_MONTH}(?:,? {_YEAR})?\b")
_MONTH_DAY = re.compile(rf"\b{_MONTH} {_DAY}(?:st|nd|rd|th)?(?:,? {_YEAR})?\b(?! ?%)")
_MONTH_YEAR = re.compile(rf"\b(?:[Ii]n|[Dd]uring|[Ss]ince|[Oo]f|[Ll]ate|[Ee]arly|[Mm]id-?) {_MONTH}(?:,? {_YEAR})?\b")
_IN_YEAR = re.compile(rf"\b(?:[Ii]n|[Dd]uring|[Ss]ince) (?:early |late |mid-?)?{_YEAR}\b")
_LAST_PERIOD = re.compile(r"\b(?:last|previous|past) (month|year)\b", re.I)
_THIS_YEAR = re.compile(r"\bthis year\b", re.I)
_RECENT = re.compile(
    r"\b(?:this (?:week|weekend|month|morning)|(?:last|past|previous) (?:week|weekend|few days|days)"
    r"|(?:in )?recent (?:days|weeks)|recent(?:ly)?|latest|newest|new(?:ly)?|current(?:ly)?|now|nowadays"
    r"|just|today|tonight|yesterday|so far|upcoming|ongoing|breaking)\b", re.I)


@dataclass(frozen=True)
class TimeCue:
    kind: Kind
    as_of: date
    since: date  # the period the question is about (inclusive)
    until: date
    phrase: str | None  # the words that set it
    prior: Prior

    def bonus(self, published: date | None) -> float:
        """What the prior adds to an article's fused score (0 when its date is unknown)."""
        if published is None or self.prior.weight == 0:
            return 0.0
        distance = (self.since - published).days if published < self.since else max(0, (published - self.until).days)
        return self.prior.weight * 0.5 ** (distance / self.prior.half_life)

    def settle(self, candidates: Sequence[tuple[float, date | None]]) -> TimeCue:
        """For a `recent` cue over news with no candidate inside the period at all, "latest" means
        the newest of the near-best candidates: the period moves back to end at its date."""
        if self.kind != "recent" or not candidates:
            return self
        if any(d is not None and d >= self.since for _, d in candidates):
            return self
        best = max(score for score, _ in candidates)
        newest = max((d for score, d in candidates if d is not None and score >= best - NEAR_BEST), default=None)
        if newest is None:
            return self
        # Capped at NEAR_BEST: it reorders near-equal candidates only, and old news asked about
        # "now" ranks as without time-awareness (docs/design.md).
        return replace(self, since=newest - timedelta(days=self.prior.window), until=newest,
                       prior=replace(self.prior, weight=min(self.prior.weight, NEAR_BEST)),
                       phrase=f"{self.phrase}, newest near-best {newest.isoformat()}")

    def describe(self) -> str:
        what = f"'{self.phrase}' ({self.kind})" if self.phrase else "no time cue"
        return (f"as of {self.as_of.isoformat()}: {what} -> prefer {self.since.isoformat()}..{self.until.isoformat()}, "
                f"weight {self.prior.weight:g}, half-life {self.prior.half_life:g} days; nothing after "
                f"{self.as_of.isoformat()}")


def parse_cue(question: str, as_of: date, priors: dict[Kind, Prior] | None = None) -> TimeCue:
    """The time cue of `question`, resolved against `as_of`: a named date wins over a relative cue."""
    priors = priors or PRIORS
    period = _absolute(question, as_of) or _last_period(question, as_of)
    if period is not None:
        since, until, phrase = period
        return TimeCue("date", as_of, since, min(until, as_of), phrase, priors["date"])
    m = _RECENT.search(question)
    kind: Kind = "recent" if m else "none"
    prior = priors[kind]
    return TimeCue(kind, as_of, as_of - timedelta(days=prior.window), as_of, m.group(0) if m else None, prior)


def _month_number(name: str) -> int:
    return next(i for i, m in enumerate(_MONTHS, start=1) if m.startswith(name.rstrip(".")[:3]))


def _absolute(question: str, as_of: date) -> tuple[date, date, str] | None:
    """A named day, month or year no later than as_of; a year-less one is the latest such before it."""
    for pattern, order in ((_DAY_MONTH, "dmy"), (_MONTH_DAY, "mdy")):
        for m in pattern.finditer(question):
            day, month = (m.group(1), m.group(2)) if order == "dmy" else (m.group(2), m.group(1))
            found = _day(int(day), _month_number(month), m.group(3), as_of)
            if found is not None:
                return found, found, m.group(0)
    for m in _MONTH_YEAR.finditer(question):
        month = _month_number(m.group(1))
        year = int(m.group(2)) if m.group(2) else (as_of.year if month <= as_of.month else as_of.year - 1)
        first = date(year, month, 1)
        if first <= as_of:
            return first, date(year, month, monthrange(year, month)[1]), m.group(0)
    for m in _IN_YEAR.finditer(question):
        year = int(m.group(1))
        if year <= as_of.year:
            return date(year, 1, 1), date(year, 12, 31), m.group(0)
    if (this_year := _THIS_YEAR.search(question)) is not None:
        return date(as_of.year, 1, 1), as_of, this_year.group(0)
    return None


def _day(day: int, month: int, year: str | None, as_of: date) -> date | None:
    try:
        found = date(int(year) if year else as_of.year, month, day)
        if year is None and found > as_of:
            found = date(as_of.year - 1, month, day)
    except ValueError:
        return None
    return found if found <= as_of else None


def _last_period(question: str, as_of: date) -> tuple[date, date, str] | None:
    m = _LAST_PERIOD.search(question)
    if m is None:
        return None
    if m.group(1).lower() == "year":
        return date(as_of.year - 1, 1, 1), date(as_of.year - 1, 12, 31), m.group(0)
    last = as_of.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last, m.group(0)


def parse_as_of(text: str) -> datetime:
    """`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` (seconds and a UTC offset allowed) as a datetime."""
    value = text.strip()
    try:
        if not _AS_OF.fullmatch(value):
            raise ValueError
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None


def as_of_date(as_of: AsOf) -> date:
    """The calendar day of `as_of` (articles carry dates, not times); None is today."""
    if as_of is None:
        return date.today()
    return as_of.date() if isinstance(as_of, datetime) else as_of


def stale_notice(cue: TimeCue, answer: Answer, chunks: list[RetrievedChunk]) -> str | None:
    """For a question after the latest news: say "as of" when the newest evidence is old."""
    if cue.kind != "recent":
        return None
    dates = [c.published_at for c in answer.citations] if not answer.refused else [c.published_at for c in chunks]
    known = [d for d in dates if d]
    if not known:
        return None
    newest = max(known)
    try:
        age = (cue.as_of - date.fromisoformat(newest)).days
    except ValueError:
        return None
    if age <= NOTICE_STALE_DAYS:
        return None
    return (f"As of {cue.as_of.isoformat()}, the newest article this answer draws on is from {newest} "
            f"({age} days earlier); there may be later news.")
