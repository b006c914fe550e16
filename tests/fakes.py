"""Test doubles that run in microseconds: a deterministic hashing embedder and chunk builders."""

from __future__ import annotations

import hashlib

import numpy as np

from rag.terms import content_terms
from rag.types import RetrievedChunk

DIM = 256


class HashEmbedder:
    """Bag of stemmed content words, each hashed to one of DIM dimensions, L2-normalised.

    Texts sharing words get a high cosine, texts sharing none get 0; the same text always gets the
    same vector. Enough for logic that needs "similar" and "different", never for quality numbers.
    """

    name = "hash-bow-256"
    max_tokens = 256

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in content_terms(text):
                out[row, int(hashlib.md5(term.encode()).hexdigest(), 16) % DIM] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(t.split()) + 2 for t in texts]  # words plus [CLS] and [SEP]


def chunk(text: str, article_id: str = "a1", index: int = 0, start: int = 0, score: float = 0.5,
          dense: float | None = None, title: str = "Title") -> RetrievedChunk:
    """A retrieved chunk whose text sits at `start` of its article."""
    return RetrievedChunk(chunk_id=f"{article_id}::{index}", article_id=article_id, index=index, start=start,
                          end=start + len(text), text=text, title=title, score=score,
                          dense_score=score if dense is None else dense)
