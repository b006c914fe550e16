"""Reading the model's reply (rag.answering.reply) and mapping its [n] markers (rag.answering.quotes)."""

from __future__ import annotations

import pytest

from rag.answering.quotes import MarkerMapper, map_markers
from rag.answering.reply import DraftQuote, ReplySplitter, parse_quotes, parse_reply

Q1 = "Belarus is ready to offer a wide range of such equipment."
Q2 = "The situation is similar with regard to food supplies."


@pytest.mark.parametrize("text, quotes, answer, markers", [
    (f'QUOTES:\n[1] (source 2) "{Q1}"\n[2] (source 1) "{Q2}"\nANSWER:\nMachinery [1] and food [2].',
     [DraftQuote(1, 2, Q1), DraftQuote(2, 1, Q2)], "Machinery [1] and food [2].", "quotes"),
    (f'**Quotes:**\n1. "{Q1}" (source 3)\n**Answer:** Machinery [1].',
     [DraftQuote(1, 3, Q1)], "Machinery [1].", "quotes"),
    (f'{{"quotes": [{{"source": 2, "quote": "{Q1}"}}], "answer": "Machinery [1]."}}',
     [DraftQuote(1, 2, Q1)], "Machinery [1].", "quotes"),
    (f'```json\n{{"quotes": ["{Q2}"], "answer": "Food [1]."}}\n```',
     [DraftQuote(1, None, Q2)], "Food [1].", "quotes"),
    (f'Belarus said "{Q1}" [2] and more.', [DraftQuote(1, 2, Q1)], f'Belarus said "{Q1}" [2] and more.', "sources"),
    ("The sources do not say.", [], "The sources do not say.", "sources"),
], ids=["sections", "markdown-headers", "json", "fenced-json-strings", "inline-quotes", "plain"])
def test_parse_reply_reads_each_format(text: str, quotes: list[DraftQuote], answer: str, markers: str) -> None:
    reply = parse_reply(text)
    assert reply.quotes == quotes
    assert reply.answer == answer
    assert reply.markers == markers


@pytest.mark.parametrize("section, expected", [
    (f'[1] (source 1) "{Q1}"', [DraftQuote(1, 1, Q1)]),
    (f'- "{Q1}" [source 4]', [DraftQuote(1, 4, Q1)]),
    ('[1] (source 1) "Belarus is ready to offer a wide\nrange of such equipment."',
     [DraftQuote(1, 1, Q1)]),  # a quote running onto the next line is one quote
    (f'[1] "{Q1}"\n"{Q2}"', [DraftQuote(1, None, Q1), DraftQuote(2, None, Q2)]),
    ('QUOTES:\n\n[1] (source 1) ""', []),  # empty quotes are skipped
])
def test_parse_quotes_lines(section: str, expected: list[DraftQuote]) -> None:
    assert parse_quotes(section) == expected


def test_splitter_holds_answer_text_until_the_header_is_complete() -> None:
    splitter = ReplySplitter()
    assert splitter.feed('QUOTES:\n[1] (source 1) "x y z"\nANS') == ""
    assert splitter.answer_start is None
    assert splitter.feed("WER:\nMachinery") == "Machinery"
    assert splitter.feed(" [1].") == " [1]."
    assert splitter.quotes_section().startswith("QUOTES:")
    splitter.reset()
    assert (splitter.text, splitter.answer_start) == ("", None)


@pytest.mark.parametrize("text, mapping, expected", [
    ("Machinery [1] and food [2].", {1: [1], 2: [2]}, "Machinery [1] and food [2]."),
    ("Machinery [2] and food [1].", {1: [2], 2: [1]}, "Machinery [1] and food [2]."),
    ("Both [1, 2].", {1: [1], 2: [2]}, "Both [1][2]."),
    ("Source-numbered [Source 3].", {3: [1, 2]}, "Source-numbered [1][2]."),
    ("Dropped quote [4].", {1: [1]}, "Dropped quote ."),
    ("Repeated [1][1].", {1: [1]}, "Repeated [1][1]."),
    ("No markers.", {1: [1]}, "No markers."),
])
def test_map_markers(text: str, mapping: dict[int, list[int]], expected: str) -> None:
    assert map_markers(text, mapping) == expected


def test_marker_split_across_streamed_pieces_is_mapped_whole() -> None:
    mapper = MarkerMapper({12: [3]})
    out = mapper.feed("Food [1") + mapper.feed("2] and") + mapper.feed(" more [12") + mapper.flush()
    assert out == "Food [3] and more [12"  # a bracket never closed is text, left as written
