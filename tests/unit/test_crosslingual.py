"""rag/crosslingual.py: an English question, a Russian article: sentences chosen by similarity."""

from __future__ import annotations

import numpy as np

from rag.answering.extractive import Candidate, Extract
from rag.crosslingual import SentenceVectors, across_languages
from tests.fakes import chunk

TEXT = "Тесла был известен своими достижениями. Тесла умер 7 января 1943 года. С 1990-х годов интерес возродился."


def fake_embed(texts: list[str]) -> np.ndarray:
    """The death sentence points along the question; the others away from it."""
    return np.array([[1.0, 0.0] if "умер" in t else [0.2, 0.98] for t in texts], dtype=np.float32)


def extract_of(language: str | None) -> Extract:
    c = chunk(TEXT, article_id="tesla").model_copy(update={"language": language})
    lead = TEXT.index(".") + 1
    return Extract([Candidate(c, 0, lead, TEXT[:lead], ("tesla", 0), 0.8)], False, "", None)


def test_an_answer_across_scripts_quotes_the_sentence_closest_to_the_question() -> None:
    calls: list[int] = []
    vectors = SentenceVectors(lambda texts: calls.append(len(texts)) or fake_embed(texts))  # type: ignore[func-returns-value]
    found = across_languages("What year did Tesla die?", extract_of("ru"), lambda: np.array([1.0, 0.0]), vectors)
    assert [s.text for s in found.sentences] == ["Тесла умер 7 января 1943 года."]
    s = found.sentences[0]
    assert TEXT[s.start:s.end] == s.text  # verbatim, at its offsets (the chunk starts at 0)
    across_languages("When did Tesla die?", extract_of("ru"), lambda: np.array([1.0, 0.0]), vectors)
    assert calls == [3]  # a chunk's sentences are embedded once


def test_an_answer_in_the_question_s_script_is_left_as_it_is() -> None:
    for language in ("en", None):
        found = extract_of(language)
        assert across_languages("What year did Tesla die?", found, lambda: np.array([1.0, 0.0]),
                                SentenceVectors(fake_embed)) is found
    found = extract_of("ru")
    vectors = SentenceVectors(fake_embed)
    assert across_languages("Когда умер Тесла?", found, lambda: np.array([1.0, 0.0]), vectors) is found


def test_retrieval_across_scripts_moves_up_the_chunk_holding_the_closest_sentence() -> None:
    from rag.crosslingual import rerank

    lead = chunk("Тесла был известен своими достижениями. Он жил в Нью-Йорке.", article_id="a", score=0.86)
    death = chunk(TEXT, article_id="b", score=0.84)
    ranked = [c.model_copy(update={"language": "ru"}) for c in (lead, death)]
    vectors = SentenceVectors(fake_embed)
    q = np.array([1.0, 0.0])
    assert [c.article_id for c in rerank("What year did Tesla die?", q, ranked, vectors)] == ["b", "a"]
    same = [c.model_copy(update={"language": "en"}) for c in (lead, death)]
    assert rerank("What year did Tesla die?", q, same, vectors) == same
