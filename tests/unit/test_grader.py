"""The LLM judge beside the string grader: which answers it reads, how its reply is read, and
Cohen's kappa between the two."""

from __future__ import annotations

from rag.evals.dataset import Question
from rag.evals.grader import RUBRIC, cohen_kappa, disagreements, grade, judge_messages, judge_metrics, parse_verdict
from rag.evals.metrics import Outcome
from rag.types import Answer


def outcome(answerable: bool, text: str, refused: bool = False) -> Outcome:
    q = Question(id=text or "r", question="Which dairy operates in Astrakhan?", answerable=answerable,
                 answers=(("Babushkina Krynka",),) if answerable else (),
                 evidence=("Babushkina Krynka opened a plant in Astrakhan.",) if answerable else ())
    a = Answer(question=q.question, answer=text, refused=refused, mode="extractive", citations=[], retrieved=[])
    return Outcome(q, a, [], 1.0)


def test_the_prompt_holds_the_rubric_the_expected_answer_and_the_evidence() -> None:
    messages = judge_messages(outcome(True, "The Krynka dairy."))
    assert messages[0]["content"] == RUBRIC
    user = messages[1]["content"]
    assert "Expected answer: Babushkina Krynka" in user and "Evidence: Babushkina Krynka opened" in user
    assert "Answer: The Krynka dairy." in user


def test_replies_are_read_for_their_verdict() -> None:
    assert parse_verdict("RIGHT") is True and parse_verdict("Wrong.") is False
    assert parse_verdict("The answer is correct") is True and parse_verdict("incorrect") is False
    assert parse_verdict("I cannot tell") is None


def test_only_shown_answers_to_answerable_questions_go_to_the_model() -> None:
    asked: list[str] = []

    def complete(messages: list[dict[str, str]]) -> str:
        asked.append(messages[1]["content"])
        return "RIGHT" if "dairy" in messages[1]["content"].split("Answer:")[1] else "WRONG"

    outcomes = [outcome(True, "Babushkina Krynka dairy."),  # string: right; judge: right
                outcome(True, "The Krynka dairy."),  # string: wrong; judge: right (a disagreement)
                outcome(True, "Savushkin."),  # both wrong
                outcome(True, "", refused=True), outcome(False, "", refused=True), outcome(False, "A guess.")]
    graded = grade(outcomes, complete)
    assert len(asked) == 3
    assert [o.judge["verdict"] for o in graded] == ["right", "right", "wrong", "refused", "refused", "wrong"]  # type: ignore[index]
    m = judge_metrics(graded)
    assert m["judge_n"] == 3 and m["judge_agreement"] == round(2 / 3, 4)
    assert m["judge_right_rate"] == 0.5  # 2 of the 4 answerable
    assert m["judge_shown_precision"] == 0.5  # right: 2 of 4 shown (the guess is wrong)
    assert [o.answer.answer for o in disagreements(graded)] == ["The Krynka dairy."]


def test_a_failing_model_leaves_the_answer_ungraded() -> None:
    def broken(messages: list[dict[str, str]]) -> str:
        raise TimeoutError("slow")

    graded = grade([outcome(True, "Babushkina Krynka.")], broken)
    assert graded[0].judge["right"] is None and graded[0].judge["verdict"] == "unreadable"  # type: ignore[index]
    assert judge_metrics(graded)["judge_unreadable"] == 1


def test_cohen_kappa() -> None:
    assert cohen_kappa([]) is None
    assert cohen_kappa([(True, True), (False, False)]) == 1.0
    # observed 0.5, chance 0.5 -> 0
    assert cohen_kappa([(True, True), (True, False), (False, True), (False, False)]) == 0.0
    # 8 pairs: agree 6; p_a = 0.5, p_b = 0.5 -> chance 0.5, kappa (0.75 - 0.5) / 0.5 = 0.5
    pairs = [(True, True)] * 3 + [(False, False)] * 3 + [(True, False), (False, True)]
    assert cohen_kappa(pairs) == 0.5
