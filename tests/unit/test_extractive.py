"""Extractive sentence selection (rag.answering.extractive) on hand-made chunks."""

from __future__ import annotations

import pytest

from rag.answering.extractive import Params, extract
from tests.fakes import chunk

OFFERS = ("Belarus is ready to offer tractors and trailed equipment to Astrakhan.\n\n"
          "The President named passenger vehicles as another area of cooperation.\n\n"
          "Food supplies are another area, including baby food.")
WEATHER = "Heavy rain is expected in Minsk on Friday, forecasters said."
DATED = "The governor visited Minsk on 2 May 2025 for talks with the President."


@pytest.mark.parametrize("question, chunks, first_words", [
    ("What is Belarus ready to offer Astrakhan?", [chunk(OFFERS, score=0.7), chunk(WEATHER, "b", score=0.3)],
     ["Belarus is ready"]),
    ("When did the governor visit Minsk?", [chunk(DATED, score=0.6), chunk(OFFERS, "b", score=0.65)],
     ["The governor visited"]),  # a date question wants the sentence with a date
], ids=["best-sentence", "date-typed"])
def test_picks_the_answering_sentence(question: str, chunks: list, first_words: list[str]) -> None:
    result = extract(question, chunks)
    assert not result.refused
    assert [s.text[: len(w)] for s, w in zip(result.sentences, first_words, strict=False)] == first_words
    for s in result.sentences:  # offsets point into the article, through the chunk's own offset
        assert s.start >= s.chunk.start and s.end <= s.chunk.end


def test_a_list_question_collects_the_list_from_the_article() -> None:
    result = extract("What areas did Belarus offer Astrakhan?", [chunk(OFFERS, score=0.7)])
    assert [s.text.split()[0] for s in result.sentences] == ["Belarus", "The", "Food"]


def test_sentences_come_in_article_order_with_offsets_into_it() -> None:
    text = "x" * 40 + OFFERS
    result = extract("What areas did Belarus offer Astrakhan?", [chunk(OFFERS, start=40, score=0.7)])
    assert [text[s.start:s.end] for s in result.sentences] == [s.text for s in result.sentences]
    assert [s.start for s in result.sentences] == sorted(s.start for s in result.sentences)


@pytest.mark.parametrize("question, chunks, reason", [
    ("What?", [chunk(OFFERS)], "the question has nothing to look up"),
    ("What did Belarus offer?", [], "nothing was retrieved"),
    ("What did Belarus offer?", [chunk(OFFERS, score=0.1)], "nothing retrieved is close to the question"),
    ("What did Poland offer Astrakhan?", [chunk(OFFERS, score=0.3)], "the sources do not mention Poland"),
    ("How many tractors did Belarus offer?", [chunk(OFFERS, score=0.7)], "no number in the sources"),
    ("When did Belarus offer tractors?", [chunk(OFFERS, score=0.7)], "no date in the sources"),
], ids=["no-content-words", "nothing-retrieved", "too-far", "unknown-name", "no-number", "no-date"])
def test_refusals_say_why(question: str, chunks: list, reason: str) -> None:
    result = extract(question, chunks, Params())
    assert result.refused
    assert result.reason == reason


def test_what_keeps_a_question_from_the_llm_is_confidence_not_the_hand_rule_alone() -> None:
    from dataclasses import replace

    typed = extract("How many tractors did Belarus offer?", [chunk(OFFERS, score=0.7)])
    assert typed.refused_by_evidence  # an answer-type refusal weighs no evidence: it stands
    answered = extract("What is Belarus ready to offer Astrakhan?", [chunk(OFFERS, score=0.7)])
    assert not answered.refused and not answered.refused_by_evidence
    assert answered.assessment is not None
    assert answered.confidence >= Params().min_confidence
    # Refused by the undated hand rule while confidence clears its threshold: the LLM path's own
    # names check decides instead.
    hand = replace(answered, refused=True, by_hand_rule=True)
    assert hand.refused and not hand.refused_by_evidence
    weak = replace(hand, by_hand_rule=False, confidence=0.1)
    assert weak.refused_by_evidence
    unsure = extract("What is Belarus ready to offer Astrakhan?", [chunk(OFFERS, score=0.7)],
                     Params(min_confidence=0.99))
    assert unsure.refused and unsure.refused_by_evidence and "confidence" in unsure.reason
