"""The refusal decision of extractive answers: answer types, signals, and a reason for every refusal."""

import pytest

from rag.answering.evidence import answer_type, assess, has_type
from rag.answering.extractive import extract
from rag.loaders import load_paths
from rag.types import RetrievedChunk
from tests.conftest import SEEDS


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


def _chunk(article_id: str, text: str, dense: float, lexical_rank: int | None = 1) -> RetrievedChunk:
    return RetrievedChunk(chunk_id=f"{article_id}:0", article_id=article_id, index=0, start=0, end=len(text),
                          text=text, title=article_id, score=dense, dense_score=dense, lexical_rank=lexical_rank)


def test_an_article_about_the_event_scores_higher_than_a_near_miss():
    question = "Which company did the Ohio regulators fine over the 2023 train derailment?"
    about = _chunk("a", "Ohio regulators fined Norfolk Southern over the 2023 train derailment in East Palestine.",
                   0.62)
    near_miss = _chunk("b", "Regulators in Texas fined a rail operator after a derailment near Houston.", 0.55)
    on_topic = assess(question, [about, near_miss], "a", about.text, "name")
    off_topic = assess(question, [near_miss], "b", near_miss.text, "name")
    assert on_topic.probability > off_topic.probability
    assert off_topic.signals.names < 1.0 and off_topic.signals.numbers == 0.0
    assert on_topic.answers() and not off_topic.answers()
    assert "Ohio" in off_topic.missing_names
    assert off_topic.reason("name").endswith(f"< {off_topic.threshold})")


def test_refused_extracts_say_why_and_what_type_they_wanted():
    question = "How many tonnes of cargo passed through the port of Rotterdam in 2024?"
    chunks = [_chunk("x", "The weather in Minsk was mild this spring and the parks were full.", 0.1, None)]
    result = extract(question, chunks)
    assert result.refused and result.wanted == "number"
    assert result.reason and result.assessment is not None


def test_a_refusal_carries_its_reason_in_the_notice(embedded_pipeline):
    embedded_pipeline.ingest(load_paths([SEEDS], 10**7).articles)
    answer = embedded_pipeline.ask("What is the population of Astrakhan Oblast?", mode="extractive")
    assert answer.refused
    assert answer.notice and answer.notice.startswith("Refused: ")
    answered = embedded_pipeline.ask("Which Belarusian milk processing company operates in Astrakhan Oblast?",
                                     mode="extractive")
    assert not answered.refused and answered.notice is None
