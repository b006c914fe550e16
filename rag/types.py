"""Values that cross module boundaries. Offsets are character offsets into Article.text."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from rag.ids import content_hash


@dataclass(frozen=True)
class Filters:
    """Which articles a question may draw on; applied on the dense and the lexical side alike."""

    since: str | None = None  # YYYY-MM-DD, inclusive
    until: str | None = None
    source: str | None = None
    language: str | None = None  # ISO 639-1 ("en", "ru"), as detected at ingest (rag/language.py)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Article(_Frozen):
    id: str
    text: str
    title: str
    url: str | None = None
    source: str | None = None
    published_at: str | None = None  # ISO date, YYYY-MM-DD
    # Detected from the text at ingest (rag/language.py), so not part of the content hash: the
    # text decides it, and an unchanged article stays unchanged.
    language: str | None = None

    @property
    def content_hash(self) -> str:
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
    language: str | None = None


class StoredChunk(_Frozen):
    """A chunk as the store holds it, with its article's title, date and source."""

    chunk_id: str
    article_id: str
    index: int
    start: int
    end: int
    text: str
    title: str
    published_at: str | None = None
    source: str | None = None
    starts_paragraph: bool = True
    language: str | None = None  # the article's


class RetrievedChunk(StoredChunk):
    """A stored chunk as a search scored it."""

    score: float
    # how retrieval ranked it (None: not ranked by that side); see `rag search --explain`
    dense_rank: int | None = None
    lexical_rank: int | None = None
    dense_score: float | None = None
    lexical_score: float | None = None
    recency: float | None = None  # what the time cue's recency prior added to `score` (rag/timecues.py)


class Citation(_Frozen):
    n: int
    article_id: str
    chunk_id: str
    title: str
    published_at: str | None
    quote: str  # always article_text[start:end]
    start: int
    end: int
    # verbatim: found as written in the cited source; reattributed: found in another retrieved
    # source; repaired: the model paraphrased one sentence, and this is that real sentence.
    kind: Literal["verbatim", "reattributed", "repaired"] = "verbatim"
    language: str | None = None  # the cited article's (ISO 639-1), as detected at ingest


class Retrieved(_Frozen):
    chunk_id: str
    article_id: str
    score: float


class Verification(_Frozen):
    """What happened to the quotes the answer was written from, and to its sentences.

    quotes_total = verified + reattributed + repaired + dropped; `verified` counts quotes found
    as written in the source they were attributed to.
    """

    quotes_total: int = 0
    verified: int = 0
    reattributed: int = 0
    repaired: int = 0
    dropped: int = 0
    sentences_total: int = 0
    unsupported_sentences: int = 0


class Usage(_Frozen):
    """Tokens the LLM read and wrote for one answer, as its server counted them (or, `estimated`,
    as the pipeline's tokenizer counts the messages and the reply when the server said nothing)."""

    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False


class Answer(_Frozen):
    question: str
    answer: str
    refused: bool
    mode: str  # extractive | llm | extractive-fallback
    citations: list[Citation]
    retrieved: list[Retrieved]
    verification: Verification = Verification()
    unsupported: list[str] = []  # answer sentences left out: their citations do not support them, or they do
    # not answer this question; `unsupported_reasons[i]` says why `unsupported[i]` was left out
    unsupported_reasons: list[str] = []
    notice: str | None = None  # e.g. why the LLM was not used
    standalone_question: str | None = None  # a follow-up rewritten for retrieval
    usage: Usage | None = None  # LLM tokens, when the server reported them
    as_of: str | None = None  # ISO date the question was asked at; nothing published after it was used
    # Calibrated probability that the answer is right (None: not estimated); refusal is a threshold on it.
    confidence: float | None = None


class Token(_Frozen):
    """A piece of answer text, streamed as the model writes it."""

    text: str


class Final(_Frozen):
    """The last event of a streamed answer: the whole answer, verified. It supersedes the tokens."""

    answer: Answer


class Retrieval(_Frozen):
    """Sent first by `Pipeline.ask_stream(..., rank_depth=n)`: the ranking retrieval made (n deep,
    best first) and the time cue it applied, for evals and traces."""

    chunks: list[RetrievedChunk]
    time_cue: str | None = None


def final_answer(events: Iterable[object]) -> Answer:
    """The verified answer of an event stream: read the events until `Final`."""
    for event in events:
        if isinstance(event, Final):
            return event.answer
    raise RuntimeError("the answer stream ended without its final answer")
