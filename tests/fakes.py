"""Test doubles that run in microseconds: a deterministic hashing embedder, chunk builders, articles
in memory and an in-process scripted LLM client."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import numpy as np

from rag.llm_client import Deadline, LLMClient, LLMConfig
from rag.terms import content_terms
from rag.types import ArticleInfo, RetrievedChunk, StoredChunk

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


class FakeStorage:
    """Articles in memory, with the two reads answering makes (rag.answering.context.Storage)."""

    def __init__(self, articles: dict[str, tuple[str, str, str | None]], chunks: list[RetrievedChunk]) -> None:
        self.articles = articles  # id -> (title, text, published_at)
        self.chunks = chunks
        self.reads: list[str] = []

    def get_article(self, article_id: str) -> tuple[ArticleInfo, str] | None:
        self.reads.append(article_id)
        if article_id not in self.articles:
            return None
        title, text, published = self.articles[article_id]
        info = ArticleInfo(id=article_id, title=title, published_at=published, content_hash="0" * 32,
                           n_chunks=sum(c.article_id == article_id for c in self.chunks))
        return info, text

    def article_chunks(self, article_id: str) -> list[StoredChunk]:
        return [StoredChunk(**c.model_dump(include=set(StoredChunk.model_fields)))
                for c in self.chunks if c.article_id == article_id]


class ScriptedLLM(LLMClient):
    """An LLM client that plays scripted replies in process: no server, no HTTP. A reply is a
    string (streamed in pieces of `piece` characters) or an exception to raise; each call records
    the messages it was sent."""

    def __init__(self, *replies: str | Exception, piece: int = 7) -> None:
        super().__init__(LLMConfig(model="scripted", base_url=None, api_key="x", timeout_s=1.0, max_retries=0,
                                   max_tokens=800))
        self.replies = list(replies)
        self.piece = piece
        self.requests: list[list[dict[str, str]]] = []

    def stream(self, messages: list[dict[str, str]], deadline: Deadline,
               on_retry: Callable[[], None] | None = None, max_tokens: int | None = None,
               on_usage: Callable[[int, int], None] | None = None) -> Iterator[str]:
        self.requests.append(messages)
        reply = self.replies.pop(0) if self.replies else ""
        if isinstance(reply, Exception):
            raise reply
        for at in range(0, len(reply), self.piece):
            yield reply[at:at + self.piece]
        if on_usage is not None:
            on_usage(sum(len(m["content"].split()) for m in messages), len(reply.split()))
