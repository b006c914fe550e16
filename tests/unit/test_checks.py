"""Answer-level checks (rag/answering/checks.py): a figure keeps its role, and an answer holds what
the question asks for."""

from __future__ import annotations

import pytest

from rag.answering.checks import Quantity, expected, holds, item_count, misaligned, quantities

SEED_LEAD = "Belarusian President Aleksandr Lukashenko met with Governor Igor Babushkin in Minsk on 2 May."


def test_a_number_is_read_with_its_role() -> None:
    found = quantities("The talks lasted 2 days and cost $3.5 million, up 5% from 2024; 1,000 people came "
                       "a week later, on the 3rd of June.")
    assert found == [Quantity("2", "duration", "day"), Quantity("3500000", "money"), Quantity("5", "percent"),
                     Quantity("2024", "date"), Quantity("1000", "count"), Quantity("1", "duration", "week"),
                     Quantity("3", "date")]
    assert quantities("on 2 May") == [Quantity("2", "date")]
    assert quantities("and an idea") == []  # "and", "an" and "a" are not numbers


def test_two_days_is_not_supported_by_the_second_of_may() -> None:
    why = misaligned("The meeting lasted for 2 days.", SEED_LEAD)
    assert why == "it states 2 days as a duration, the cited text as a date"
    assert misaligned("They met on 2 May.", SEED_LEAD) is None
    assert misaligned("It rose 5 percent.", "It rose 5% in 2024.") is None
    assert misaligned("It rose 7 percent.", "It rose 5% in 2024.") == "the cited text does not state 7"
    # the question may supply the figure
    assert misaligned("In 2024 it rose 5%.", "It rose 5%.", "How much did it rise in 2024?") is None


@pytest.mark.parametrize("question, wanted", [
    ("How long did the meeting last?", "duration"),
    ("How long is the new bridge?", "count"),
    ("How many buses will Astrakhan buy?", "count"),
    ("The storm likely caused how much in damages?", "count"),
    ("When was the agreement signed?", "date"),
    ("Why is Belarus interested in the Astrakhan ports?", "reason"),
    ("Who said that?", "person"),
    ("What did Belarus offer Astrakhan?", "items"),
    ("What public transport vehicles does Belarus make?", "items"),
    ("Which company announced layoffs?", None),
])
def test_the_expected_answer_type(question: str, wanted: str | None) -> None:
    assert expected(question) == wanted


def test_an_answer_holds_the_asked_type_only_when_the_question_does_not_already_say_it() -> None:
    assert not holds(SEED_LEAD, "duration", "How long did the meeting last?")
    assert holds("The talks lasted two days.", "duration", "How long did the meeting last?")
    assert holds("Astrakhan will buy 40 buses.", "count", "How many buses will Astrakhan buy?")
    assert not holds("Astrakhan will buy 40 buses in 2025.", "count", "How many buses will Astrakhan buy in 2025, "
                     "after the 40 it bought?")
    assert holds(SEED_LEAD, "date", "When did they meet?")
    assert holds(SEED_LEAD, "person", "Who met the governor?")
    assert not holds("The governor met the president.", "person", "Who met the governor?")
    assert holds("Belarus wants the ports to ship goods to Iran.", "reason", "Why does Belarus want the ports?")
    assert holds("anything", "none-such", "What?")


def test_the_items_of_a_list() -> None:
    question = "What public transport vehicles does Belarus make?"
    assert item_count("We produce buses, trolleybuses, and trams.", question) == 3
    assert item_count("Belarus makes passenger vehicles.", question) == 1
    assert item_count("- Tractors\n- Elevators", question) == 2
    assert not holds("Belarus makes passenger vehicles.", "items", question)
