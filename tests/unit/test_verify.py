"""Checking the model's quotes against the articles (rag.answering.verify), case by case."""

from __future__ import annotations

import pytest

from rag.answering.reply import DraftQuote
from rag.answering.sources import Source
from rag.answering.verify import QuoteVerifier
from tests.fakes import HashEmbedder

MINSK = ("Belarus is ready to offer a wide range of agricultural equipment. "
         "The President named the supply of passenger vehicles as another area of cooperation. "
         "The situation is similar with regard to food supplies, including baby food. "
         "Belarus has significantly increased the supplies of elevators to Russia.")
PORTS = ("The governor praised the huge experience of the region in land reclamation. "
         "Cargo transportation through the ports of the region interests Belarus a great deal.")
TEXTS = {"minsk": MINSK, "ports": PORTS}
SOURCES = [Source(1, "minsk", "Minsk", None, 0, len(MINSK), MINSK, ()),
           Source(2, "ports", "Ports", None, 0, len(PORTS), PORTS, ())]


def verifier() -> QuoteVerifier:
    return QuoteVerifier(SOURCES, TEXTS, HashEmbedder().embed)


@pytest.mark.parametrize("quote, source, kinds, article", [
    ("Belarus is ready to offer a wide range of agricultural equipment.", 1, ["verbatim"], "minsk"),
    ("BELARUS IS READY TO OFFER   a wide range", 1, ["verbatim"], "minsk"),  # case and spaces fold
    ("the huge experience of the region in land reclamation", 1, ["reattributed"], "ports"),  # wrong source
    ("the huge experience of the region in land reclamation", None, ["verbatim"], "ports"),  # no claim to check
    ("Belarus is ready to offer ... passenger vehicles as another area", 1, ["verbatim", "verbatim"], "minsk"),
    ("Belarus has increased the supplies of elevators to Russia significantly.", 1, ["repaired"], "minsk"),
], ids=["verbatim", "folded", "reattributed", "no-source-named", "ellipsis", "paraphrase-repaired"])
def test_found_quotes_slice_the_article_exactly(quote: str, source: int | None, kinds: list[str],
                                                article: str) -> None:
    checked = verifier().check(DraftQuote(1, source, quote))
    assert [s.kind for s in checked.spans] == kinds
    assert all(s.article_id == article for s in checked.spans)
    for span in checked.spans:
        found = " ".join(TEXTS[span.article_id][span.start:span.end].lower().split())
        if span.kind == "repaired":  # the article's own sentence replaces the paraphrase
            assert found == "belarus has significantly increased the supplies of elevators to russia."
        else:
            assert found in " ".join(quote.lower().split())


@pytest.mark.parametrize("quote, reason", [
    ("Belarus is", "too short to check"),
    ("Belarus is ready to offer the supplies of elevators to Russia", "stitched together from different sentences"),
    ("Belarus has not increased the supplies of elevators to Russia.", "not found in the sources"),  # negated
    ("Belarus increased supplies of elevators to Russia by 40 percent.", "not found in the sources"),  # number
    ("The moon landing was broadcast live to millions of viewers.", "not found in the sources"),
], ids=["too-short", "stitched", "negated-paraphrase", "invented-number", "fabricated"])
def test_dropped_quotes_say_why(quote: str, reason: str) -> None:
    checked = verifier().check(DraftQuote(1, 1, quote))
    assert checked.spans == ()
    assert checked.reason == reason


def test_a_quote_is_checked_once() -> None:
    v = verifier()
    draft = DraftQuote(1, 1, "The situation is similar with regard to food supplies")
    assert v.check(draft) is v.check(draft)
