"""Follow-up questions made standalone (rag/answering/followup.py): with a (scripted) LLM, and the
heuristic without one or when it fails."""

from rag.answering.followup import rewrite
from rag.llm_client import Deadline, LLMUnavailable
from tests.fakes import ScriptedLLM

HISTORY = [("user", "What did Belarus offer Astrakhan?"), ("assistant", "Tractors [1].")]


def test_without_history_the_question_is_kept():
    assert rewrite("and what about food?", []) == "and what about food?"


def test_a_follow_up_gets_the_previous_questions_content_words():
    assert rewrite("And what about food?", HISTORY) == "And what about food? Belarus offer Astrakhan"
    assert rewrite("How many buses will Astrakhan buy?", HISTORY) == "How many buses will Astrakhan buy?"


def test_an_llm_rewrites_it_and_its_failure_falls_back_to_the_heuristic():
    llm = ScriptedLLM("Rewritten question: What food did Belarus offer Astrakhan?")
    assert rewrite("And what about food?", HISTORY, llm, Deadline(5)) == "What food did Belarus offer Astrakhan?"
    assert "Conversation:\nUser: What did Belarus offer Astrakhan?" in llm.requests[0][-1]["content"]
    failing = ScriptedLLM(LLMUnavailable("down"))
    assert rewrite("And what about food?", HISTORY, failing, Deadline(5)) == \
        "And what about food? Belarus offer Astrakhan"
