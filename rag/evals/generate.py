"""Question sets from any corpus (`rag eval generate`), in the format `rag eval` reads.

Every item's evidence is a slice of its article: `article.text[start:end] == evidence[0]`, with
the span recorded in `evidence_spans`; its answers are found in that slice. Two generators:

- offline: deterministic, no model. A sentence's names, numbers, dates and enumerations become
  the answer; the question is the sentence's clause around it with the answer replaced by its
  question word ("Belarus offered Astrakhan what?"). Crude English, but every fact is real.
- llm: the configured OpenAI-compatible model writes a question, a short answer and the sentence
  it copied; an item is kept only when that sentence is in the article verbatim (typography and
  whitespace folded as citations are, the evidence then being the article's own slice) and the
  answer is in it.

Both: near-identical questions are dropped, and so is a question another article answers
differently (an article holding most of the question's words but not its answer, published by
the day the question is asked and, for a "this week" or "latest" question, in the week before it:
an older story on the same topic is what such a question must tell apart, as real ones do). The refusal
twin is built as news-dev's was: the articles answering half of the questions are left out of
the corpus (`corpus-minus.jsonl`), keeping only those questions whose answer no remaining article
holds; they become unanswerable, the other half stay answerable.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rag.citations import locate, normalise
from rag.sentences import split_paragraphs, split_sentences
from rag.types import Article

GENERATOR_VERSION = "2"
TIME_BOUND_SHARE = 0.45  # of offline questions tied to their week; news-dev's real ones: 47% carry a time cue
CLOZE_BEFORE, CLOZE_AFTER = 14, 40  # words of the clause kept before and after the answer
RECENT_DAYS = 7  # what "this week" / "latest" reaches back to
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
_STOP = frozenset("""a an and are as at be been by did do does for from had has have he her his how i in into is
it its of on or our she said says than that the their them there these they this those to was we were what
when where which who whom why will with would about after also all any before but can could just more most
new over said so some such then up us very week latest according""".split())
_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|December|"
           "Jan\\.?|Feb\\.?|Mar\\.?|Apr\\.?|Jun\\.?|Jul\\.?|Aug\\.?|Sept?\\.?|Oct\\.?|Nov\\.?|Dec\\.?")
_DATE = re.compile(rf"(?<![\d\-–])\b(?:on |in )?(?:\d{{1,2}} (?:{_MONTHS})(?: \d{{4}})?"
                   rf"|(?:{_MONTHS}) \d{{1,2}}(?:, \d{{4}})?"
                   rf"|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday))\b")
_YEAR = re.compile(r"\bin ((?:19|20)\d\d)\b")
_NUMBER = re.compile(r"\b(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?: (?:million|billion|thousand|hundred))?"
                     r"(?: (?:per ?cent|percent)|%)? ([a-z][a-z\-]+(?: [a-z][a-z\-]+)?)")
_NAME = re.compile(r"\b([A-Z][a-z]+(?:[\- ](?:[A-Z][a-z]+|de|of|van|von|al))*(?: [A-Z][a-z]+))\b"
                   r"|\b([A-Z][a-zA-Z]{2,}(?:[\- ][A-Z][a-zA-Z]+)*)\b")
_SPEECH = re.compile(r"^,? (?:said|says|told|announced|added|noted|stressed|explained)\b")
_TITLE = re.compile(r"\b(?:Minister|President|Governor|Mayor|CEO|chief|director|chairman|head|spokesman|"
                    r"spokeswoman|Prime Minister|Secretary|Ambassador|Dr\.?|Mr\.?|Ms\.?|Mrs\.?)\s*$")
_LIST_VERB = re.compile(r"\b(?:offered|offers|offer|proposed|proposes|includ(?:e|es|ed|ing)|supplies|supplied|"
                        r"exports?|exported|will (?:build|supply|send|deliver|produce)|plans to (?:build|supply)|"
                        r"agreed (?:on|to)|announced)\b ")
_NOT_NAMES = frozenset("""The A An In On At For But And Or If When While After Before This That These Those It
Its He She They We I You Our Their His Her Monday Tuesday Wednesday Thursday Friday Saturday Sunday
According However Meanwhile Also Last Next Earlier Later""".split())
_NUMBER_WORDS = r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|" \
                r"thousands?|millions?|billions?|half)\b"
_WHEN_WORDS = rf"\d|\b(?:{_MONTHS}|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|today|yesterday|" \
              r"tomorrow|week|month|year|spring|summer|autumn|fall|winter)\b"
_LIST_STOP = _STOP | frozenset("until mainly by in for to from on at mostly especially while".split())


@dataclass(frozen=True)
class Item:
    """One generated question; `span` is where its evidence sits in `article_id`'s text."""

    question: str
    answers: tuple[str, ...]  # each a fact the answer must hold
    article_id: str
    start: int
    end: int
    type: str
    as_of: str | None = None
    asks: str = ""  # a time-bound question's own kind (who, how many, ...); else its type

    def record(self, number: int, text: str) -> dict[str, Any]:
        return {"id": f"gen-{number:04d}", "question": self.question, "answerable": True,
                "answers": list(self.answers), "evidence": [text[self.start:self.end]],
                "evidence_spans": [{"article_id": self.article_id, "start": self.start, "end": self.end}],
                "as_of": self.as_of, "type": self.type, "asks": self.asks or self.type}


@dataclass
class Stats:
    tried: int = 0
    kept: int = 0
    calls: int = 0  # llm: model calls
    dropped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


@dataclass(frozen=True)
class GenerateOptions:
    n: int = 200
    seed: int = 7
    since: str | None = None  # YYYY-MM-DD: ask only about articles published in [since, until]
    until: str | None = None
    mode: str = "offline"
    max_tries: int | None = None  # llm: model calls before giving up (default 4 n)


Completer = Callable[[list[dict[str, str]]], str]
Progress = Callable[[int, int], None]


# ---- offline candidates -------------------------------------------------------------------------

def offline_candidates(article: Article, rng: random.Random) -> list[Item]:
    """Every question the offline generator can make from `article`'s sentences."""
    items: list[Item] = []
    spans = [s for p0, p1 in split_paragraphs(article.text)
             for s in split_sentences(article.text[p0:p1], p0)]
    for start, end in spans:
        sentence = article.text[start:end]
        if not 40 <= len(sentence) <= 320 or sentence.lstrip().startswith("(") or "\n" in sentence \
                or any(mark in sentence for mark in '“”"'):
            continue
        items.extend(_sentence_items(article, sentence, start, rng))
    return items


def _sentence_items(article: Article, sentence: str, offset: int, rng: random.Random) -> Iterator[Item]:
    taken: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        ok = all(b <= s or a >= e for s, e in taken)
        if ok:
            taken.append((a, b))
        return ok

    def item(a: int, b: int, wh: str, answers: tuple[str, ...], kind: str) -> Item | None:
        question = _cloze(sentence, a, b, wh)
        if question is None:
            return None
        return Item(question, answers, article.id, offset, offset + len(sentence.rstrip()), kind,
                    _as_of(article, rng))

    for m in _LIST_VERB.finditer(sentence):
        tail = sentence[m.end():].rstrip(" .")
        parts = [p.strip() for p in re.split(r",\s*(?:and\s+)?|\s+and\s+", tail) if p.strip()]
        if 3 <= len(parts) <= 6 and all(1 <= len(p.split()) <= 5 and p.split()[0].lower() not in _LIST_STOP
                                        for p in parts):
            if free(m.end(), m.end() + len(tail)) and (it := item(m.end(), m.end() + len(tail), "what",
                                                                  tuple(parts), "list")):
                yield it
            break
    for m in _DATE.finditer(sentence):
        if not re.search(r"[A-Z][a-z]* $", sentence[:m.start()]) and free(m.start(), m.end()):
            answer = re.sub(r"^(?:on|in) ", "", m.group(0))
            if it := item(m.start(), m.end(), "when", (answer,), "when"):
                yield it
    for m in _YEAR.finditer(sentence):
        if free(m.start(), m.end()) and (it := item(m.start(), m.end(), "in which year", (m.group(1),), "when")):
            yield it
    for m in _NUMBER.finditer(sentence):
        number, noun = m.group(1), m.group(2)
        if noun.split()[0] in _STOP or re.fullmatch(r"(?:19|20)\d\d", number) \
                or re.search(r"[A-Z][A-Za-z]*[ \-]$", sentence[:m.start()]):  # "Type 2", "Covid-19"
            continue
        a, measure = m.start(), m.group(0)[len(number):].strip()
        if sentence[:a].endswith("$"):
            a = a - 1
            if "dollar" not in measure:
                measure = re.sub(r"^((?:million|billion|thousand|hundred) )?", r"\1dollars ", measure, count=1)
        if not free(a, m.end()):
            continue
        if it := item(a, m.end(), f"how many {measure}", (number,), "how many"):
            yield it
    for m in _NAME.finditer(sentence):
        name = m.group(1) or m.group(2)
        a = m.start()
        if a == 0 or name.split()[0] in _NOT_NAMES or len(name) < 4 or not free(a, a + len(name)):
            continue
        after, before = sentence[a + len(name):], sentence[:a]
        if after[:1] in "-–" or re.match(r" \d", after) or re.search(r"[A-Z][a-z]* $", before):
            continue  # part of a longer name ("President-elect", "Giving Tuesday")
        b = a + len(name)
        if re.match(r"^['’]s\b", after):
            wh, b, kind = "whose", b + 2, "who"
        else:
            person = _SPEECH.match(after) or _TITLE.search(before) or re.match(r"^,? (?:who|from)\b", after)
            wh = kind = "who" if person else "which" if " " in name else "what"
            if before.endswith("the ") and wh != "who":
                a, wh = a - 4, "which"
        if it := item(a, b, wh, (name,), kind):
            yield it


def _cloze(sentence: str, start: int, end: int, wh: str) -> str | None:
    """The clause of `sentence` around [start, end) with that span replaced by `wh`, as a question."""
    bounds = [0] + [m.end() for m in re.finditer(r"[;:]\s|,\s(?=(?:but|while|which|who|and)\b)", sentence)]
    bounds.append(len(sentence))
    lo = max(b for b in bounds if b <= start)
    hi = min(b for b in bounds if b >= end)
    before, after = sentence[lo:start], sentence[end:hi]
    # Quiz questions are shorter than news sentences: the detail after the next comma goes, and
    # so do the words more than 14 before the answer (from a comma when there is one).
    cut = re.search(r",\s", after[1:])
    if cut and len(after[:cut.start() + 1].split()) >= 2:
        after = after[:cut.start() + 1]
    head = before.split(" ")
    if len(head) > CLOZE_BEFORE + 1:
        tail = " ".join(head[-CLOZE_BEFORE - 1:])
        comma = tail.find(", ")
        before = tail[comma + 2:] if 0 <= comma < len(tail) - 20 else tail
    rest = after.split(" ")
    if len(rest) > CLOZE_AFTER + 1:
        after = " ".join(rest[:CLOZE_AFTER + 1])
    clause = before + wh + after
    clause = re.sub(r"\s+", " ", clause).strip(" ,;:.")
    words = clause.split()
    if not 5 <= len(words) <= 32 or sum(w.islower() and w not in _STOP for w in words) < 2:
        return None
    return clause[0].upper() + clause[1:] + "?"


def _as_of(article: Article, rng: random.Random) -> str | None:
    """As news-dev's quizzes: asked 0-6 days after the article was published."""
    if not article.published_at:
        return None
    return (date.fromisoformat(article.published_at[:10]) + timedelta(days=rng.randint(0, 6))).isoformat()


def time_bound(item: Item, rng: random.Random) -> Item:
    """The same question tied to its week: "... this week?" or "... according to the latest reports?"."""
    if item.as_of is None:
        return item
    if rng.random() < 0.5:
        return Item(item.question[:-1] + " this week?", item.answers, item.article_id, item.start, item.end,
                    "this week", item.as_of, item.type)
    return Item(item.question[:-1] + ", according to the latest reports?", item.answers, item.article_id,
                item.start, item.end, "latest", item.as_of, item.type)


# ---- llm candidates -----------------------------------------------------------------------------

LLM_PROMPT = """You write quiz questions about a news passage, like a weekly news quiz. Write ONE {kind}
question a reader could answer from this passage alone, without seeing it.
- Ask in your own words, not the passage's: describe the story as a quiz would ("a European country",
  "the tech giant") rather than copying its sentence; but name enough for the question to have one answer.
- Never put the answer in the question; never say "the passage" or "the article".
Reply with JSON only: {{"question": "...", "answer": "...", "quote": "..."}}
- "quote": ONE sentence copied exactly, character for character, from the passage; it holds the answer.
- "answer": the shortest phrase (at most 6 words) copied exactly from the quote that answers the question.
{extra}"""
KIND_HINTS = {
    "who": ("a 'who' question (the answer is a person or organisation)", ""),
    "what": ("a 'what' question", ""),
    "which": ("a 'which' question", ""),
    "how many": ("a 'how many' question (the answer is a number)", ""),
    "when": ("a 'when' question (the answer is a date or day)", ""),
    "list": ("a 'what did X offer/announce' question whose answer is a list",
             "- For a list, \"answer\" is the items separated by '; ' (each copied from the quote)."),
    "this week": ("a question ending in 'this week'", ""),
}


def llm_item(article: Article, kind: str, reply: str, as_of: str | None,
             stats: Stats) -> Item | None:
    """The model's reply as an item, or None (and why, in `stats`) when it does not hold up."""
    try:
        found = re.search(r"\{.*\}", reply, re.DOTALL)
        data = json.loads(found.group(0)) if found else None
        question, answer, quote = (str(data[k]).strip() for k in ("question", "answer", "quote"))  # type: ignore[index]
    except (ValueError, KeyError, TypeError):
        stats.drop("unreadable reply")
        return None
    if not question.endswith("?") or not answer or not quote:
        stats.drop("unreadable reply")
        return None
    where = locate(article.text, quote)
    if where is None:
        stats.drop("quote not verbatim")
        return None
    start, end = where
    hay = normalise(article.text[start:end]).text
    parts = tuple(p.strip() for p in answer.split(";") if p.strip()) if kind == "list" else (answer,)
    if not parts or not all(normalise(p).text in hay for p in parts):
        stats.drop("answer not in quote")
        return None
    if normalise(answer).text in normalise(question).text:
        stats.drop("answer in question")
        return None
    asked = question.lower()
    if re.search(r"\b(?:passage|article|text|this news)\b", asked):
        stats.drop("question about the passage")
        return None
    wants = "how many" if re.match(r"how (?:many|much)\b", asked) else "when" if asked.startswith("when") else None
    if wants and not re.search(_NUMBER_WORDS if wants == "how many" else _WHEN_WORDS, answer, re.IGNORECASE):
        stats.drop("answer of the wrong type")
        return None
    timed = "this week" if "this week" in asked else "latest" if "latest" in asked else None
    # typed by what the question asks, whatever kind was requested
    own = wants or next((w for w in ("who", "which", "what") if asked.startswith(w)), kind)
    own = "what" if own == "this week" else "list" if kind == "list" else own
    if timed and as_of:
        return Item(question, parts, article.id, start, end, timed, as_of, own)
    return Item(question, parts, article.id, start, end, own, as_of)


def _window(article: Article, rng: random.Random, size: int = 6) -> tuple[int, int]:
    sentences = split_sentences(article.text)
    if not sentences:
        return 0, len(article.text)
    first = rng.randrange(max(1, len(sentences) - size + 1))
    chosen = sentences[first:first + size]
    return chosen[0][0], chosen[-1][1]


# ---- filters ------------------------------------------------------------------------------------

def terms(text: str) -> set[str]:
    return {w for w in (m.group(0).lower().strip("'’-") for m in _WORD.finditer(text)) if w and w not in _STOP}


class Ambiguity:
    """Finds a question that another article answers differently: that article holds most of the
    question's content words (70%, at least 3) but none of the item's answers."""

    def __init__(self, articles: Sequence[Article]) -> None:
        self.texts = {a.id: normalise(a.text).text for a in articles}
        self.dates = {a.id: (a.published_at or "")[:10] for a in articles}
        self.index: dict[str, set[str]] = {}
        for a in articles:
            for t in terms(a.text):
                self.index.setdefault(t, set()).add(a.id)

    def other_answer(self, item: Item) -> str | None:
        wanted = terms(item.question) - {t for a in item.answers for t in terms(a)}
        if len(wanted) < 3:
            return None
        counts: dict[str, int] = {}
        for t in wanted:
            for article_id in self.index.get(t, ()):
                counts[article_id] = counts.get(article_id, 0) + 1
        needed = max(3, int(0.7 * len(wanted) + 0.999))
        answers = [normalise(a).text for a in item.answers]
        # As of the day it is asked: later articles are not there yet, and a question tied to its
        # week ("this week", "latest") is not answered by an older story on the same topic.
        latest = item.as_of or "9999"
        earliest = (date.fromisoformat(item.as_of) - timedelta(days=RECENT_DAYS)).isoformat() \
            if item.as_of and item.type in ("this week", "latest") else ""
        for article_id, count in counts.items():
            day = self.dates[article_id]
            if day and not earliest <= day <= latest:
                continue
            if article_id != item.article_id and count >= needed:
                if not any(a in self.texts[article_id] for a in answers):
                    return article_id
        return None


def near_duplicate(question: str, kept: Sequence[set[str]], threshold: float = 0.8) -> bool:
    mine = terms(question)
    return any(len(mine & other) / max(1, len(mine | other)) >= threshold for other in kept)


# ---- the generator ------------------------------------------------------------------------------

@dataclass
class GeneratedSet:
    items: list[Item]
    header: dict[str, Any]
    stats: Stats


def generate(articles: Sequence[Article], options: GenerateOptions, complete: Completer | None = None,
             progress: Progress | None = None, settings: dict[str, Any] | None = None) -> GeneratedSet:
    """Up to `options.n` items about the articles in [since, until], reproducible for a seed (and,
    in llm mode, for a model answering at temperature 0)."""
    if options.mode not in ("offline", "llm"):
        raise ValueError(f"mode must be offline or llm, not {options.mode!r}")
    if options.mode == "llm" and complete is None:
        raise ValueError("llm mode needs a model to complete prompts")
    t0 = time.perf_counter()
    rng = random.Random(options.seed)
    pool = sorted((a for a in articles if _in_period(a, options.since, options.until)), key=lambda a: a.id)
    rng.shuffle(pool)
    ambiguity = Ambiguity(articles)
    stats = Stats()
    kept: list[Item] = []
    kept_terms: list[set[str]] = []
    type_counts: dict[str, int] = {}

    used_sentences: set[tuple[str, int]] = set()

    def offer(item: Item) -> bool:
        stats.tried += 1
        if (item.article_id, item.start) in used_sentences:
            stats.drop("sentence already asked about")
            return False
        if near_duplicate(item.question, kept_terms):
            stats.drop("near-duplicate")
            return False
        if ambiguity.other_answer(item) is not None:
            stats.drop("another article answers differently")
            return False
        kept.append(item)
        used_sentences.add((item.article_id, item.start))
        kept_terms.append(terms(item.question))
        type_counts[item.type] = type_counts.get(item.type, 0) + 1
        if progress:
            progress(len(kept), options.n)
        return True

    if options.mode == "offline":
        per_article = [offline_candidates(a, rng) for a in pool]
        for candidates in per_article:
            rng.shuffle(candidates)
        # Round robin over the articles, each time the candidate whose type is least used so far,
        # so the set spreads over articles and question types.
        while len(kept) < options.n and any(per_article):
            for candidates in per_article:
                if len(kept) >= options.n:
                    break
                while candidates:
                    candidates.sort(key=lambda c: type_counts.get(c.type, 0))
                    item = candidates.pop(0)
                    if rng.random() < TIME_BOUND_SHARE:
                        item = time_bound(item, rng)
                    if offer(item):
                        break
    else:
        assert complete is not None
        kinds = [k for k in KIND_HINTS]
        budget = options.max_tries or 4 * options.n
        calls = 0
        while len(kept) < options.n and calls < budget and pool:
            article = pool[calls % len(pool)]
            kind = kinds[calls % len(kinds)]
            calls += 1
            as_of = _as_of(article, rng)
            if kind == "this week" and as_of is None:
                kind = "what"
            start, end = _window(article, rng)
            hint, extra = KIND_HINTS[kind]
            messages = [{"role": "system", "content": LLM_PROMPT.format(kind=hint, extra=extra)},
                        {"role": "user", "content": f"Passage:\n{article.text[start:end]}"}]
            try:
                reply = complete(messages)
            except Exception as exc:  # a model that fails for one item should not end the set
                stats.tried += 1
                stats.drop(f"model error ({type(exc).__name__})")
                continue
            made = llm_item(article, kind, reply, as_of, stats)
            if made is None:
                stats.tried += 1
                continue
            offer(made)
        stats.calls = calls
    stats.kept = len(kept)
    stats.seconds = round(time.perf_counter() - t0, 2)
    header = {"generator": "rag-news eval generate", "version": GENERATOR_VERSION,
              "settings": {**asdict(options), **(settings or {})}, "types": dict(sorted(type_counts.items()))}
    return GeneratedSet(kept, header, stats)


def _in_period(article: Article, since: str | None, until: str | None) -> bool:
    day = (article.published_at or "")[:10]
    if since and (not day or day < since):
        return False
    return not (until and (not day or day > until))


# ---- the refusal twin and the files -------------------------------------------------------------

@dataclass
class RefusalTwin:
    removed: list[str]  # article ids left out of the corpus
    unanswerable: list[int]  # indexes into the items
    answerable: list[int]


def refusal_twin(items: Sequence[Item], articles: Sequence[Article], seed: int) -> RefusalTwin:
    """Leave out the answering articles of half the items; keep as unanswerable only those whose
    answers no remaining article holds, and as answerable items whose article stays."""
    rng = random.Random(seed + 1)
    order = list(range(len(items)))
    rng.shuffle(order)
    half = len(items) // 2
    candidates, keep = order[:half], order[half:]
    protected = {items[i].article_id for i in keep}
    removed = {items[i].article_id for i in candidates if items[i].article_id not in protected}
    remaining = [normalise(a.text).text for a in articles if a.id not in removed]
    unanswerable = [i for i in candidates if items[i].article_id in removed
                    and not any(normalise(ans).text in text for ans in items[i].answers for text in remaining)]
    answerable = sorted(keep)[:max(len(unanswerable), 1)] if unanswerable else sorted(keep)
    return RefusalTwin(sorted(removed), sorted(unanswerable), answerable)


def evidence_overlap(records: Sequence[dict[str, Any]]) -> float | None:
    """The mean share of a question's content words found in its evidence: how much a set's
    questions copy their articles (news-dev's real questions: 0.36; offline cloze questions: ~0.94).
    The higher, the easier retrieval is, whatever the configuration."""
    shares = []
    for r in records:
        asked = terms(r["question"])
        if asked and r["evidence"]:
            shares.append(len(asked & terms(" ".join(r["evidence"]))) / len(asked))
    return round(sum(shares) / len(shares), 4) if shares else None


def write_set(generated: GeneratedSet, articles: Sequence[Article], out: Path, seed: int) -> dict[str, int]:
    """dataset.jsonl (a header line, then the items), dataset-refusal.jsonl, corpus-minus.jsonl,
    removed.txt and stats.json. Returns counts."""
    out.mkdir(parents=True, exist_ok=True)
    texts = {a.id: a.text for a in articles}
    records = [item.record(i, texts[item.article_id]) for i, item in enumerate(generated.items, start=1)]
    header = json.dumps({"header": generated.header}, ensure_ascii=False)
    lines = [header] + [json.dumps(r, ensure_ascii=False) for r in records]
    (out / "dataset.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")

    twin = refusal_twin(generated.items, articles, seed)
    refusal = []
    for i in sorted(twin.unanswerable + twin.answerable):
        record = dict(records[i])
        if i in twin.unanswerable:
            record.update(answerable=False, answers=[], evidence=[], evidence_spans=[], type="unanswerable")
        refusal.append(json.dumps(record, ensure_ascii=False))
    twin_header = json.dumps({"header": {**generated.header, "twin": "refusal: answering articles removed",
                                         "corpus": "corpus-minus.jsonl"}}, ensure_ascii=False)
    (out / "dataset-refusal.jsonl").write_text("\n".join([twin_header, *refusal]) + "\n", encoding="utf-8")
    gone = set(twin.removed)
    with (out / "corpus-minus.jsonl").open("w", encoding="utf-8") as f:
        for a in articles:
            if a.id not in gone:
                f.write(json.dumps(a.model_dump(), ensure_ascii=False) + "\n")
    (out / "removed.txt").write_text("".join(f"{i}\n" for i in twin.removed), encoding="utf-8")
    stats = {**asdict(generated.stats), "unanswerable": len(twin.unanswerable), "answerable_in_twin":
             len(twin.answerable), "removed_articles": len(twin.removed),
             "question_evidence_overlap": evidence_overlap(records)}
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    return {"items": len(records), "unanswerable": len(twin.unanswerable), "answerable": len(twin.answerable),
            "removed": len(twin.removed)}
