"""What an answerer may use, as one value: the question, the retrieved chunks, a reader of whole
articles, when the question is asked, the settings and the LLM client.

An answerer (the `Answerer` protocol) turns an `AnswerContext` into events: answer text as it is
written (`Token`), then one authoritative `Final`. Three implement it: extractive.py (the
articles' own sentences), sentences.py (an LLM citing numbered sentences, the default) and
quotes.py (an LLM copying its quotes). Storage is reached only through the `ArticleReader`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from rag.answering.selection import Extract, Params, extract, time_weighted
from rag.errors import ConfigError
from rag.llm_client import Deadline, LLMClient
from rag.types import ArticleInfo, Final, RetrievedChunk, StoredChunk, Token

if TYPE_CHECKING:
    from rag.answering.claims import Embed
    from rag.config import Settings


class Storage(Protocol):
    """The two reads answering needs from storage (rag/index.py ChunkIndex has them)."""

    def get_article(self, article_id: str) -> tuple[ArticleInfo, str] | None: ...

    def article_chunks(self, article_id: str) -> list[StoredChunk]: ...


class ArticleReader:
    """Whole articles for one answer: each text is read once, and an article's chunks come as
    `RetrievedChunk`s (score 0), the type the answerers work in."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self.texts: dict[str, str] = {}  # the texts read so far (sources mode numbers these)

    def text(self, article_id: str) -> str | None:
        if article_id not in self.texts:
            got = self._storage.get_article(article_id)
            if got is None:
                return None
            self.texts[article_id] = got[1]
        return self.texts[article_id]

    def chunks(self, article_id: str) -> list[RetrievedChunk]:
        return [c if isinstance(c, RetrievedChunk) else RetrievedChunk(**c.model_dump(), score=0.0)
                for c in self._storage.article_chunks(article_id)]


@dataclass(frozen=True)
class When:
    """When the question is asked, in the one form answering uses.

    `day`: the day it is asked (None when time-awareness is off), which the LLM prompt states.
    `dated`: the asker gave that day and the question bounds its event to the days before it
    ("this week"), so the refusal model may weigh the evidence's age (rag/answering/evidence.py)."""

    day: date | None = None
    dated: bool = False
    asked: bool = False  # the asker gave the day and the question names no time of its own

    @classmethod
    def of(cls, day: str | None, dated: bool = False, asked: bool = False) -> When:
        """From an ISO day (YYYY-MM-DD), as `Pipeline.answer_stream` takes it."""
        return cls(date.fromisoformat(day[:10]) if day else None, dated, asked)

    @property
    def prompt_day(self) -> str | None:
        return self.day.isoformat() if self.day else None

    @property
    def asked_day(self) -> str | None:
        """The day the asker gave, for a question that names no time (else None): the confidence
        model weighs the evidence's age against it (rag/answering/confidence.py)."""
        return self.day.isoformat() if self.day and self.asked else None

    @property
    def evidence_day(self) -> str | None:
        """The day the refusal model may use, or None (it then judges without a date)."""
        return self.day.isoformat() if self.day and self.dated else None


@dataclass
class AnswerContext:
    question: str
    chunks: list[RetrievedChunk]
    articles: ArticleReader
    settings: Settings
    when: When = When()
    llm: LLMClient | None = None  # None: no LLM is configured (extractive answers need none)
    embed: Embed | None = None  # the embedder, for the LLM answers' support checks
    count_tokens: Callable[[str], int] = len  # a source's cost against the LLM's budget
    params: Params = field(default_factory=Params)
    deadline: Deadline | None = None  # one deadline for the whole answer (LLM mode)
    about: str | None = None  # what retrieval searched for, when not the question (a joined follow-up)
    # (question, extract, weighted chunks) -> extract: the cross-language sentence choice (issue 28)
    refine: Callable[[str, Extract, list[RetrievedChunk]], Extract] | None = None

    @cached_property
    def found(self) -> Extract:
        """The extractive answer's sentences (or its refusal) on these chunks: the extractive answer
        itself, the LLM answerers' evidence gate, source focus, list hints and fallback."""
        weighted = time_weighted(self.chunks, self.settings.hybrid_alpha)
        params = self.params if self.params.min_confidence == self.settings.min_confidence else \
            replace(self.params, min_confidence=self.settings.min_confidence)
        found = extract(self.question, weighted, params, self.articles.chunks, self.when.evidence_day,
                        self.when.asked_day, self.about)
        return self.refine(self.question, found, weighted) if self.refine else found

    @property
    def client(self) -> LLMClient:
        if self.llm is None:
            raise ConfigError("this answer needs an LLM; set RAG_LLM_MODEL (and RAG_LLM_BASE_URL for a local server)")
        return self.llm

    def time_left(self) -> Deadline:
        if self.deadline is None:
            self.deadline = Deadline(self.settings.llm_deadline_s)
        return self.deadline

    def chunk_id_at(self, article_id: str, start: int, end: int) -> str:
        """The chunk holding most of a span: a retrieved one if it can, else any of the article's."""
        def best(pool: Sequence[RetrievedChunk]) -> RetrievedChunk | None:
            hits = [c for c in pool if c.article_id == article_id and c.start < end and c.end > start]
            return max(hits, key=lambda c: min(c.end, end) - max(c.start, start), default=None)

        found = best(self.chunks) or best(self.articles.chunks(article_id))
        if found is None:
            raise ConfigError(f"no chunk of {article_id} holds {start}-{end}; re-ingest it")
        return found.chunk_id


class Answerer(Protocol):
    """Answers one question: `Token`s as the answer is written (a preview), then one `Final`."""

    def stream(self, ctx: AnswerContext) -> Iterator[Token | Final]: ...
