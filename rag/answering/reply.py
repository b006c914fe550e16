"""Reading what the model wrote: quotes (number, source, text) and the answer, whatever the format.

Accepted, most expected first:
- the prompt's sections: `QUOTES:` lines like `[1] (source 2) "..."`, then `ANSWER:`;
- JSON, bare or fenced: `{"quotes": [{"source": 2, "quote": "..."}], "answer": "..."}`;
- anything else is an answer; quoted strings in it with a `[n]` after them become quotes from
  source n (models that ignore the format usually cite sources that way).
`ReplySplitter` finds the answer section while the reply streams in, so the quotes can be
verified before any answer text is passed on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

_ANSWER_HEADER = re.compile(r"(?im)^[ \t#*_>]*answer[ \t*_]*(?::|(?=[ \t*_]*$))[ \t*_]*\n?")
_QUOTES_HEADER = re.compile(r"(?im)^[ \t#*_>]*(?:quotes?|quotations|evidence)[ \t*_]*:?[ \t*_]*$")
_QUOTE_LINE = re.compile(
    r"^\s*(?:[-*•]\s*)?(?:\[(?P<n>\d+)\]|(?P<n2>\d+)[.):])?\s*"
    r"(?:[(\[]\s*(?:source|src|s)\s*#?\s*(?P<src>\d+)\s*[)\]]\s*[:,\-–—]?)?\s*(?P<text>.*)$", re.I)
_TRAILING_SOURCE = re.compile(r"\s*[(\[]\s*(?:source|src|s)\s*#?\s*(\d+)\s*[)\]]\s*[.,;]?\s*$", re.I)
_INLINE_QUOTE = re.compile(r"[\"“«]([^\"“”«»]{12,}?)[\"”»]\s*((?:\[\s*(?:source\s*)?\d+\s*\]\s*)*)", re.I)
_QUOTE_CHARS = "\"“”„'‘’«» "


@dataclass(frozen=True)
class DraftQuote:
    number: int  # the model's number for it
    source: int | None  # the source it says the quote is from
    text: str


@dataclass(frozen=True)
class Reply:
    quotes: list[DraftQuote]
    answer: str
    markers: Literal["quotes", "sources"]  # what [n] in the answer counts


def parse_reply(text: str) -> Reply:
    as_json = _parse_json(text)
    if as_json is not None:
        return as_json
    header = _ANSWER_HEADER.search(text)
    if header:
        return Reply(parse_quotes(text[: header.start()]), text[header.end():].strip(), "quotes")
    if _QUOTES_HEADER.search(text):  # quotes without an answer section
        return Reply(parse_quotes(text), "", "quotes")
    return _inline(text.strip())


def parse_quotes(section: str) -> list[DraftQuote]:
    quotes: list[DraftQuote] = []
    for line in section.splitlines():
        if not line.strip() or _QUOTES_HEADER.match(line):
            continue
        m = _QUOTE_LINE.match(line)
        assert m  # every part of the pattern is optional
        number, source, body = m["n"] or m["n2"], m["src"], m["text"]
        trailing = _TRAILING_SOURCE.search(body)
        if trailing:
            source = source or trailing.group(1)
            body = body[: trailing.start()]
        body = body.strip().strip(_QUOTE_CHARS)
        if not body:
            continue
        if number is None and source is None and quotes and not _closed(quotes[-1].text, line):
            last = quotes[-1]  # a quote that runs onto the next line
            quotes[-1] = DraftQuote(last.number, last.source, f"{last.text} {body}")
            continue
        n = int(number) if number else len(quotes) + 1
        quotes.append(DraftQuote(n, int(source) if source else None, body))
    return quotes


def _closed(previous: str, line: str) -> bool:
    return bool(re.match(r"^\s*[\"“]", line)) or previous.rstrip().endswith((".", "!", "?"))


def _parse_json(text: str) -> Reply | None:
    body = text.strip()
    fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", body, re.S)
    if fenced:
        body = fenced.group(1)
    if not body.startswith("{"):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    quotes = []
    for i, item in enumerate(data.get("quotes") or [], start=1):
        if isinstance(item, str):
            quotes.append(DraftQuote(i, None, item.strip(_QUOTE_CHARS)))
        elif isinstance(item, dict):
            quote = item.get("quote") or item.get("text") or ""
            source = item.get("source", item.get("source_id"))
            number = item.get("id", item.get("n", i))
            if isinstance(quote, str) and quote.strip():
                quotes.append(DraftQuote(_int(number) or i, _int(source), quote.strip(_QUOTE_CHARS)))
    answer = data.get("answer")
    return Reply(quotes, answer.strip() if isinstance(answer, str) else "", "quotes")


def _int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        digits = re.search(r"\d+", value)
        return int(digits.group()) if digits else None
    return None


def _inline(text: str) -> Reply:
    quotes = []
    for i, m in enumerate(_INLINE_QUOTE.finditer(text), start=1):
        source = re.search(r"\d+", m.group(2))
        quotes.append(DraftQuote(i, int(source.group()) if source else None, m.group(1).strip()))
    return Reply(quotes, text, "sources")


class ReplySplitter:
    """Feed the streamed reply; `answer_start` is set once the ANSWER header has been seen."""

    def __init__(self) -> None:
        self.text = ""
        self.answer_start: int | None = None

    def feed(self, piece: str) -> str:
        """Add a piece; return the answer text that became available with it."""
        before = len(self.text)
        self.text += piece
        if self.answer_start is None:
            header = _ANSWER_HEADER.search(self.text)
            # The header must be complete: followed by a newline or by text on its line.
            if header is None or header.end() >= len(self.text):
                return ""
            self.answer_start = header.end()
            return self.text[self.answer_start:].lstrip()
        return self.text[before:]

    def quotes_section(self) -> str:
        return self.text[: self.answer_start] if self.answer_start is not None else self.text

    def reset(self) -> None:
        self.text, self.answer_start = "", None
