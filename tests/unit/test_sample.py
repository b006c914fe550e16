"""`rag eval --sample N`: a fixed, balanced sample for slow runs (a real LLM)."""

from __future__ import annotations

from rag.evals.dataset import Question, sample


def questions(answerable: int, unanswerable: int) -> list[Question]:
    return [Question(id=f"q{i}", question=f"Question {i}?", answerable=i < answerable, answers=(), evidence=())
            for i in range(answerable + unanswerable)]


def test_half_of_the_sample_is_unanswerable_when_the_set_has_both():
    picked = sample(questions(30, 10), 8)
    assert len(picked) == 8 and sum(not q.answerable for q in picked) == 4


def test_the_sample_depends_on_the_ids_only_and_keeps_dataset_order():
    pool = questions(30, 10)
    picked = sample(pool, 8)
    shuffled = pool[1::2] + pool[::2]
    assert {q.id for q in sample(shuffled, 8)} == {q.id for q in picked}
    assert picked == [q for q in pool if q in picked]
    assert {q.id for q in picked} != {q.id for q in pool[:4] + pool[30:34]}  # not simply the first ones


def test_too_few_unanswerable_questions_are_made_up_with_answerable_ones():
    picked = sample(questions(30, 2), 10)
    assert len(picked) == 10 and sum(not q.answerable for q in picked) == 2


def test_a_sample_larger_than_the_set_is_the_set():
    pool = questions(3, 2)
    assert sample(pool, 100) == pool
