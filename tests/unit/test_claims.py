"""Claim support and the vetoes (rag.answering.claims), with and without a (fake) embedder."""

from __future__ import annotations

import pytest

from rag.answering.claims import CachedEmbed, ClaimParams, Embed, best_match, supported, vetoed
from tests.fakes import HashEmbedder

QUOTE = "Belarus has significantly increased the supplies of elevators to Russia."
PARAMS = ClaimParams()


@pytest.mark.parametrize("embed", [None, HashEmbedder().embed], ids=["lexical", "hash-embedder"])
@pytest.mark.parametrize("sentence, quotes, question, expected", [
    ("Belarus increased the supplies of elevators.", [QUOTE], "", True),
    ("Belarus did not increase the supplies of elevators.", [QUOTE], "", False),  # negation added
    ("Belarus decreased the supplies of elevators.", [QUOTE], "", False),  # direction reversed
    ("Belarus increased the supplies of elevators by 40 percent.", [QUOTE], "", False),  # number invented
    ("Belarus increased the supplies of 40 elevators.", [QUOTE], "How did 40 elevators arrive?", True),
    ("Belarus increased the supplies of elevators to Poland.", [QUOTE], "", False),  # name not in the quote
    ("Astrakhan praised land reclamation experience.", [QUOTE], "", False),  # unrelated
    ("Belarus increased the supplies of elevators.", [], "", False),  # no quotes, no support
], ids=["same-claim", "negated", "opposite-direction", "new-number", "number-from-question", "new-name",
        "unrelated", "no-quotes"])
def test_supported(sentence: str, quotes: list[str], question: str, expected: bool, embed: Embed | None) -> None:
    assert supported(sentence, quotes, embed, PARAMS, question) is expected


@pytest.mark.parametrize("claim, text, expected", [
    ("Exports rose by 5%.", "Exports rose by 5%.", False),
    ("Exports rose by 5%.", "Exports fell by 5%.", True),
    ("Exports rose by 6%.", "Exports rose by 5%.", True),
    ("Minsk never signed the deal.", "Minsk signed the deal.", True),
    ("The Belarusian side signed.", "Belarus signed.", False),  # a derived form of a name is the name
])
def test_vetoed(claim: str, text: str, expected: bool) -> None:
    assert vetoed(claim, text) is expected


def test_best_match_picks_the_paraphrased_sentence_and_honours_vetoes() -> None:
    texts = ["The governor praised land reclamation.", QUOTE, "Belarus did not increase elevator supplies to Russia."]
    claim = "Belarus has increased the supplies of elevators to Russia."
    found = best_match(claim, texts, HashEmbedder().embed, PARAMS)
    assert found is not None and found[0] == 1 and found[1] >= PARAMS.repair
    assert best_match("Something entirely different about ports.", texts, None, PARAMS) is None


def test_cached_embed_embeds_each_text_once_in_one_call() -> None:
    inner = HashEmbedder()
    cached = CachedEmbed(inner.embed)
    cached.prefetch(["a b c", "d e f", "a b c"])
    first = cached(["a b c"])
    again = cached(["d e f", "a b c"])
    assert inner.calls == 1
    assert (again[1] == first[0]).all()


def test_a_single_capital_letter_is_not_a_name() -> None:
    from rag.terms import named_terms, stem

    assert named_terms("Which broadcaster was saved after a government U-turn by Donelan?") == {stem("Donelan")}
