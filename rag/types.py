"""Values that cross module boundaries. Offsets are character offsets into Article.text."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Article(_Frozen):
    id: str
    text: str
    title: str
    url: str | None = None
    source: str | None = None
    published_at: str | None = None  # ISO date, YYYY-MM-DD

    @property
    def content_hash(self) -> str:
        from rag.ids import content_hash

        return content_hash(self)


class Chunk(_Frozen):
    id: str
    article_id: str
    index: int
    start: int
    end: int
    text: str
    starts_paragraph: bool = True


class ArticleInfo(_Frozen):
    """An article as the store knows it (no text)."""

    id: str
    title: str
    url: str | None = None
    source: str | None = None
    published_at: str | None = None
    content_hash: str
    n_chunks: int


class RetrievedChunk(_Frozen):
    chunk_id: str
    article_id: str
    index: int
    start: int
    end: int
    text: str
    title: str
    published_at: str | None = None
    source: str | None = None
    score: float
    starts_paragraph: bool = True


class Citation(_Frozen):
    n: int
    article_id: str
    chunk_id: str
    title: str
    published_at: str | None
    quote: str
    start: int
    end: int


class Retrieved(_Frozen):
    chunk_id: str
    article_id: str
    score: float


class Answer(_Frozen):
    question: str
    answer: str
    refused: bool
    mode: str
    citations: list[Citation]
    retrieved: list[Retrieved]
