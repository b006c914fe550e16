"""The refusal decision of extractive answers: answer types, signals, and a reason for every refusal
(the evidence model alone, on hand-made chunks)."""

import pytest

from rag.answering.evidence import answer_type, assess, has_type
from rag.answering.extractive import extract
from rag.types import RetrievedChunk


@pytest.mark.parametrize(("question", "wanted"), [
    ("How many buses will Astrakhan buy?", "number"),
    ("When did the delegation arrive?", "date"),
    ("Who won the Best Actor award at this year's ceremony?", "person"),
    ("Which tech billionaire bought the social network?", "person"),
    ("Which company announced a recall of its electric trucks?", "name"),
    ("Which country will host the next summit?", "name"),
    ("What did Belarus offer Astrakhan?", None),
    ("Why did the talks stall?", None),
])
def test_answer_type_of_quiz_questions(question, wanted):
    assert answer_type(question) == wanted


def test_a_thing_of_the_asked_type_is_one_the_question_does_not_already_say():
    asked = {"which", "company", "bought", "twitter"}
    assert has_type("Elon Musk's company bought Twitter last year.", "name", asked)
    assert not has_type("The company bought Twitter last year.", "name", asked)
    assert has_type("It paid 44 billion dollars.", "number", set())
    assert not has_type("It paid a lot in 2022.", "number", {"2022"})
    assert has_type("The deal closed in October.", "date", set())


def _chunk(article_id: str, text: str, dense: float, lexical_rank: int | None = 1,
           published_at: str | None = None) -> RetrievedChunk:
    return RetrievedChunk(chunk_id=f"{article_id}:0", article_id=article_id, index=0, start=0, end=len(text),
                          text=text, title=article_id, score=dense, dense_score=dense, lexical_rank=lexical_rank,
                          published_at=published_at)


QUESTION = "Which company did the Ohio regulators fine over the 2023 train derailment?"
ABOUT = "Ohio regulators fined Norfolk Southern over the 2023 train derailment in East Palestine."
NEAR_MISS = "Regulators in Texas fined a rail operator after a derailment near Houston."


def test_closer_evidence_scores_higher():
    close = assess(QUESTION, [_chunk("a", ABOUT, 0.7), _chunk("b", NEAR_MISS, 0.3)], "a", ABOUT, "name")
    far = assess(QUESTION, [_chunk("a", ABOUT, 0.4), _chunk("b", NEAR_MISS, 0.3)], "a", ABOUT, "name")
    assert close.probability > far.probability


def test_with_a_date_an_article_weeks_older_than_the_question_counts_against_it():
    def dated(published: str):  # type: ignore[no-untyped-def]
        chunks = [_chunk("a", ABOUT, 0.5, published_at=published), _chunk("b", NEAR_MISS, 0.3)]
        return assess(QUESTION, chunks, "a", ABOUT, "name", as_of="2023-03-10")

    fresh, stale = dated("2023-03-07"), dated("2023-01-20")
    assert fresh.dated and fresh.signals.stale == 0.0 and stale.signals.stale == 1.0
    assert stale.probability < fresh.probability
    assert fresh.hand_rule is None or fresh.answers() == (fresh.probability >= fresh.threshold)


def test_without_a_date_the_hand_set_rule_guards_names():
    chunks = [_chunk("b", NEAR_MISS, 0.45)]
    off_topic = assess(QUESTION, chunks, "b", NEAR_MISS, "name")
    assert not off_topic.dated and off_topic.missing_names == ("Ohio",)
    assert off_topic.hand_rule == "the sources do not mention Ohio"
    assert not off_topic.answers()
    assert off_topic.answers(0.0)  # the probability alone, as the fitting script reads it
    assert "Ohio" in off_topic.reason("name") or off_topic.probability < off_topic.threshold


def test_refused_extracts_say_why_and_what_type_they_wanted():
    question = "How many tonnes of cargo passed through the port of Rotterdam in 2024?"
    chunks = [_chunk("x", "The weather in Minsk was mild this spring and the parks were full.", 0.1, None)]
    result = extract(question, chunks)
    assert result.refused and result.wanted == "number" and result.reason == "no number in the sources"
    weak = extract("Which company runs the Rotterdam port?", chunks)
    assert weak.refused and weak.wanted == "name" and weak.assessment is not None
    assert weak.reason == weak.assessment.reason("name")


