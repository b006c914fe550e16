"""Score fusion and MMR (rag.retrieval), on made-up scores."""

from __future__ import annotations

import numpy as np
import pytest

from rag.retrieval import RetrievalParams, _mmr, fuse
from tests.fakes import chunk

WEIGHTED = RetrievalParams(fusion="weighted", alpha=0.8)
RRF = RetrievalParams(fusion="rrf", rrf_k=60)


@pytest.mark.parametrize("cosine, bm25, expected", [
    ({"a": 0.5, "b": 0.4}, {"a": 2.0, "b": 4.0}, {"a": 0.8 * 0.5 + 0.2 * 0.5, "b": 0.8 * 0.4 + 0.2 * 1.0}),
    ({"a": 0.5}, {"b": 3.0}, {"a": 0.4, "b": 0.2}),  # a missing side counts 0
    ({"a": 0.5, "b": 0.5}, {}, {"a": 0.4, "b": 0.4}),  # no BM25 at all: no division by zero
], ids=["both-sides", "one-side-each", "no-lexical"])
def test_weighted_fusion(cosine: dict[str, float], bm25: dict[str, float], expected: dict[str, float]) -> None:
    fused = fuse(["a", "b"], cosine, bm25, {}, {}, WEIGHTED)
    assert fused == pytest.approx(expected)


@pytest.mark.parametrize("alpha, winner", [(1.0, "dense-best"), (0.0, "bm25-best"), (0.8, "dense-best")])
def test_alpha_decides_between_the_sides(alpha: float, winner: str) -> None:
    cosine = {"dense-best": 0.7, "bm25-best": 0.6}
    bm25 = {"dense-best": 4.0, "bm25-best": 5.0}
    fused = fuse(list(cosine), cosine, bm25, {}, {}, RetrievalParams(alpha=alpha))
    assert max(fused, key=fused.__getitem__) == winner


def test_rrf_sums_reciprocal_ranks_and_ignores_scores() -> None:
    fused = fuse(["a", "b", "c"], {"a": 0.99}, {"c": 100.0}, {"a": 1, "b": 2}, {"b": 1, "c": 2}, RRF)
    assert fused == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 1 / 62})


def test_mmr_prefers_a_different_chunk_over_a_near_duplicate() -> None:
    candidates = [chunk("one", index=0, score=0.9), chunk("two", index=1, score=0.85),
                  chunk("three", index=2, score=0.6)]
    vectors = {"a1::0": np.array([1.0, 0.0]), "a1::1": np.array([1.0, 0.0]), "a1::2": np.array([0.0, 1.0])}
    assert [c.index for c in _mmr(candidates, vectors, 2, lam=1.0)] == [0, 1]
    assert [c.index for c in _mmr(candidates, vectors, 2, lam=0.5)] == [0, 2]


def test_bm25_counts_less_for_a_chunk_in_another_script_than_the_question() -> None:
    from rag.retrieval import cross_script

    languages = {"ru-chunk": "ru", "en-chunk": "en", "unknown": None}
    assert cross_script("What year did Tesla die?", languages) == {"ru-chunk"}
    assert cross_script("Когда умер Тесла?", languages) == {"en-chunk"}
    cosine = {"ru-chunk": 0.80, "ru-other": 0.78}
    bm25 = {"ru-other": 5.0}  # a number the question shares, in the less close paragraph
    same = fuse(list(cosine), cosine, bm25, {}, {}, WEIGHTED)
    multilingual = RetrievalParams(fusion="weighted", alpha=0.8, cross_lexical=0.05)
    cross = fuse(list(cosine), cosine, bm25, {}, {}, multilingual, frozenset(cosine))
    assert max(same, key=same.__getitem__) == "ru-other" and max(cross, key=cross.__getitem__) == "ru-chunk"
    assert cross["ru-other"] == pytest.approx(0.8 * 0.78 + 0.2 * 0.05)
    assert fuse(list(cosine), cosine, bm25, {}, {}, WEIGHTED, frozenset(cosine)) == same  # 1.0: MiniLM's
