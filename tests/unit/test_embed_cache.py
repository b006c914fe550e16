"""CachedEmbedder (`rag eval --embed-cache`): a text is embedded once per model, and what comes back
from the file is exactly what the model gave."""

from __future__ import annotations

import numpy as np

from rag.embedding import CachedEmbedder
from tests.fakes import HashEmbedder


class Counting(HashEmbedder):
    def __init__(self, name: str = "hash-bow-256") -> None:
        super().__init__()
        self.name = name
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts += texts
        return super().embed(texts)


def test_vectors_come_back_bit_for_bit_and_each_text_is_embedded_once(tmp_path):
    texts = ["Belarus offered tractors.", "Astrakhan builds ships.", "Belarus offered tractors.", "Omsk milk."]
    fresh = Counting()
    first = CachedEmbedder(fresh, tmp_path / "cache.sqlite").embed(texts)
    assert sorted(fresh.texts) == sorted(set(texts))  # the repeated text went to the model once
    assert np.array_equal(first, HashEmbedder().embed(texts))

    again = Counting()  # another process, the same file
    second = CachedEmbedder(again, tmp_path / "cache.sqlite").embed(["Omsk milk.", "New text here.", texts[0]])
    assert again.texts == ["New text here."]
    assert second.dtype == np.float32 and second.shape == (3, first.shape[1])
    assert np.array_equal(second[0], first[3]) and np.array_equal(second[2], first[0])
    assert np.array_equal(second[1], HashEmbedder().embed(["New text here."])[0])


def test_another_model_never_reads_the_first_models_vectors(tmp_path):
    CachedEmbedder(Counting("model-a"), tmp_path / "cache.sqlite").embed(["Same text."])
    other = Counting("model-b")
    CachedEmbedder(other, tmp_path / "cache.sqlite").embed(["Same text."])
    assert other.texts == ["Same text."]


def test_nothing_to_embed_and_tokens_pass_through(tmp_path):
    inner = Counting()
    cached = CachedEmbedder(inner, tmp_path / "sub" / "cache.sqlite")
    assert cached.embed([]).shape[0] == 0
    assert cached.count_tokens(["two words"]) == inner.count_tokens(["two words"])
    assert (cached.name, cached.max_tokens) == (inner.name, inner.max_tokens)
