"""Pipeline: the one object the CLI, the API and the eval runner drive.

Data flows one way: loaders -> chunking -> embedding -> store; question -> retrieval ->
answering -> citations -> Answer. Everything heavy (model, Chroma client) loads on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from rag.answering.extractive import Params, extract
from rag.chunking import chunk_article
from rag.config import Settings
from rag.embedding import Embedder, LocalMiniLM, OpenAIEmbedder
from rag.errors import LoadError
from rag.store import ChunkStore, build_where, collection_stem, open_client
from rag.types import Answer, Article, Chunk, Citation, Retrieved, RetrievedChunk

Status = Literal["added", "updated", "unchanged", "failed"]
REFUSAL = "The articles I have do not say."
# Embedding runs over groups of this many chunks, so one article's failure stays its own.
_EMBED_GROUP = 64


@dataclass
class IngestReport:
    results: list[tuple[str, Status, str]] = field(default_factory=list)  # (id or source, status, detail)

    def count(self, status: Status) -> int:
        return sum(1 for _, s, _ in self.results if s == status)


@dataclass(frozen=True)
class Filters:
    since: str | None = None
    until: str | None = None
    source: str | None = None


class Pipeline:
    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 params: Params | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self.params = params or Params()

    @classmethod
    def from_settings(cls, settings: Settings) -> Pipeline:
        return cls(settings)

    @cached_property
    def embedder(self) -> Embedder:
        if self._embedder is not None:
            return self._embedder
        if self.settings.embedder == "openai":
            import os

            return OpenAIEmbedder(self.settings.openai_embedding_model,
                                  os.environ.get("RAG_EMBEDDING_API_KEY") or os.environ.get("OPENAI_API_KEY"),
                                  os.environ.get("RAG_EMBEDDING_BASE_URL"))
        return LocalMiniLM()

    @cached_property
    def store(self) -> ChunkStore:
        s = self.settings
        stem = collection_stem(s.collection_prefix, self.embedder.name, s.encoding, s.chunk_tokens,
                               s.chunk_overlap, s.chunk_min_tokens)
        return ChunkStore(lambda: open_client(s.data_dir, s.chroma_url), stem)

    @cached_property
    def _count_tokens(self) -> Callable[[list[str]], list[int]]:
        from rag.tokens import get_encoding

        enc = get_encoding(self.settings.encoding)
        return lambda texts: [len(t) for t in enc.encode_batch(texts, disallowed_special=())]

    def chunk(self, article: Article, digest: str | None = None) -> list[Chunk]:
        return chunk_article(
            article, self._count_tokens, self.settings.chunk_tokens, self.settings.chunk_overlap,
            self.embedder.count_tokens, self.embedder.max_tokens, digest,
            self.settings.chunk_min_tokens,
        )

    # --- ingestion ------------------------------------------------------------------------

    def ingest(self, articles: Sequence[Article], errors: Sequence[LoadError] = (),
               progress: Callable[[int], None] | None = None) -> IngestReport:
        report = IngestReport([(e.source, "failed", e.reason) for e in errors])
        known = self.store.article_infos([a.id for a in articles])
        todo: list[tuple[Article, str, Status]] = []
        for article in articles:
            digest = article.content_hash
            info = known.get(article.id)
            if info and info.content_hash == digest:
                report.results.append((article.id, "unchanged", ""))
                if progress:
                    progress(1)
            else:
                todo.append((article, digest, "updated" if info else "added"))
        group: list[tuple[Article, str, Status, list[Chunk]]] = []
        for article, digest, status in todo:
            group.append((article, digest, status, self.chunk(article, digest)))
            if sum(len(g[3]) for g in group) >= _EMBED_GROUP:
                self._write_group(group, report, progress)
                group = []
        if group:
            self._write_group(group, report, progress)
        return report

    def _write_group(self, group, report: IngestReport, progress) -> None:  # type: ignore[no-untyped-def]
        texts = [c.text for _, _, _, chunks in group for c in chunks]
        vectors = self.embedder.embed(texts)
        self.store.write_articles([(article, digest, chunks) for article, digest, _, chunks in group], vectors)
        for article, _, status, chunks in group:
            report.results.append((article.id, status, f"{len(chunks)} chunks"))
            if progress:
                progress(1)

    # --- questions ------------------------------------------------------------------------

    def retrieve(self, question: str, k: int, filters: Filters = Filters()) -> list[RetrievedChunk]:
        vector = self.embedder.embed([_clip_question(question, self.embedder)])[0]
        where = build_where(filters.since, filters.until, filters.source)
        return self.store.query(vector, k, where)

    def ask(self, question: str, top_k: int | None = None, filters: Filters = Filters()) -> Answer:
        k = top_k or self.settings.top_k
        chunks = self.retrieve(question, max(k, 1), filters)
        return self.answer_from(question, chunks)

    def answer_from(self, question: str, chunks: list[RetrievedChunk], mode: str = "extractive") -> Answer:
        result = extract(question, chunks, self.params, self.store.article_chunks)
        retrieved = [Retrieved(chunk_id=c.chunk_id, article_id=c.article_id, score=round(c.score, 4)) for c in chunks]
        if result.refused:
            return Answer(question=question, answer=REFUSAL, refused=True, mode=mode,
                          citations=[], retrieved=retrieved)
        citations = [
            Citation(n=n, article_id=s.chunk.article_id, chunk_id=s.chunk.chunk_id, title=s.chunk.title,
                     published_at=s.chunk.published_at, quote=s.text, start=s.start, end=s.end)
            for n, s in enumerate(result.sentences, start=1)
        ]
        text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
        return Answer(question=question, answer=text, refused=False, mode=mode,
                      citations=citations, retrieved=retrieved)


def _clip_question(question: str, embedder: Embedder) -> str:
    """Questions longer than the model's window are cut to it rather than rejected."""
    if len(question) < 600 or embedder.count_tokens([question])[0] <= embedder.max_tokens:
        return question
    words = question.split()
    while words and embedder.count_tokens([" ".join(words)])[0] > embedder.max_tokens:
        words = words[: int(len(words) * 0.8)]
    return " ".join(words)
