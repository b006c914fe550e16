"""Pipeline: the one object the CLI, the API and the eval runner drive.

Data flows one way: loaders -> chunking -> embedding -> store; question -> retrieval ->
answering -> citations -> Answer. Everything heavy (model, Chroma client) loads on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Literal, TypeVar

from rag.answering.extractive import Params, extract
from rag.answering.prompts import REFUSAL
from rag.chunking import chunk_article
from rag.config import Settings
from rag.embedding import Embedder, LocalMiniLM, OpenAIEmbedder
from rag.errors import ConfigError, LoadError
from rag.store import ChunkStore, collection_stem, open_client
from rag.timecues import AsOf, TimeCue, as_of_date, parse_cue, stale_notice
from rag.types import (  # Filters is re-exported: callers build it next to the Pipeline
    Answer,
    Article,
    Chunk,
    Citation,
    Filters,
    Final,
    Retrieval,
    Retrieved,
    RetrievedChunk,
    Token,
    Verification,
    final_answer,
)

T = TypeVar("T")
Status = Literal["added", "updated", "unchanged", "failed"]
Pending = tuple[Article, str, Status, list[Chunk]]  # an article to write: its hash, status and chunks
Mode = Literal["auto", "extractive", "llm"]
History = Sequence[tuple[str, str]]  # (role, text), oldest first; role is "user" or "assistant"
# Embedding runs over groups of this many chunks, so one article's failure stays its own.
_EMBED_GROUP = 64


@dataclass
class IngestReport:
    results: list[tuple[str, Status, str]] = field(default_factory=list)  # (id or source, status, detail)

    def count(self, status: Status) -> int:
        return sum(1 for _, s, _ in self.results if s == status)


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
        return LocalMiniLM(threads=self.settings.embed_threads)

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
        # encode_ordinary per text, not encode_batch: the batch call starts a thread pool on every
        # call, which cost more than the encoding itself for a sentence list (profiled).
        return lambda texts: [len(enc.encode_ordinary(t)) for t in texts]

    @cached_property
    def _count_one(self) -> Callable[[str], int]:
        """Token count of one text, cached: the same articles are sent whole again and again."""
        from functools import lru_cache

        return lru_cache(maxsize=1024)(lambda text: self._count_tokens([text])[0])

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
        # Three stages overlap: chunking the next group and writing the previous one run beside the
        # model (onnxruntime releases the GIL), so ingestion costs little more than the model.
        # Writes stay in order, one group at a time, so the crash-safe order holds.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-chunk") as chunker, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-write") as writer:
            pending_write = None
            for group in _prefetched(chunker, self._groups(todo)):
                vectors = self.embedder.embed([c.text for _, _, _, chunks in group for c in chunks])
                if pending_write is not None:
                    pending_write.result()  # surfaces a failed write before the next one starts
                pending_write = writer.submit(self._write_group, group, vectors, report, progress)
            if pending_write is not None:
                pending_write.result()
        return report

    def _groups(self, todo: list[tuple[Article, str, Status]]) -> Iterator[list[Pending]]:
        group: list[Pending] = []
        for article, digest, status in todo:
            group.append((article, digest, status, self.chunk(article, digest)))
            if sum(len(g[3]) for g in group) >= _EMBED_GROUP:
                yield group
                group = []
        if group:
            yield group

    def _write_group(self, group, vectors, report: IngestReport, progress) -> None:  # type: ignore[no-untyped-def]
        synced = self.retriever.in_sync()
        removed = self.store.write_articles([(article, digest, chunks) for article, digest, _, chunks in group],
                                            vectors)
        rows = [_lexical_row(article, c, v)
                for (article, c), v in zip(((a, c) for a, _, _, cs in group for c in cs), vectors, strict=True)]
        self.retriever.written(rows, removed, synced)
        for article, _, status, chunks in group:
            report.results.append((article.id, status, f"{len(chunks)} chunks"))
            if progress:
                progress(1)

    # --- questions ------------------------------------------------------------------------

    def delete_article(self, article_id: str) -> bool:
        synced = self.retriever.in_sync()
        existed = self.store.delete_article(article_id)
        self.retriever.deleted(article_id, synced)
        return existed

    @cached_property
    def retriever(self):  # type: ignore[no-untyped-def]
        import hashlib

        from rag.lexical import SCHEMA_VERSION, LexicalIndex
        from rag.retrieval import RetrievalParams, Retriever

        s = self.settings
        # One index file per store: the server URL (or "embedded") and the collection stem name it.
        where = hashlib.sha1((s.chroma_url or "embedded").encode()).hexdigest()[:8]
        path = (s.lexical_dir or s.data_dir / "lexical") / f"{self.store.stem}-{where}-v{SCHEMA_VERSION}.sqlite"
        params = RetrievalParams(method=s.retrieval, fusion=s.hybrid_fusion, alpha=s.hybrid_alpha,  # type: ignore[arg-type]
                                 mmr_lambda=s.mmr_lambda)
        return Retriever(self.store, LexicalIndex(path), params, single_process=s.chroma_url is None)

    def time_cue(self, question: str, as_of: AsOf = None) -> TimeCue | None:
        """The question's time cue resolved against `as_of` (default: now); None when time-awareness is off."""
        if not self.settings.time_aware:
            return None
        return parse_cue(question, as_of_date(as_of))

    def retrieve(self, question: str, k: int, filters: Filters = Filters(), params=None,  # type: ignore[no-untyped-def]
                 as_of: AsOf = None) -> list[RetrievedChunk]:
        """The best `k` chunks. Nothing published after `as_of` (default: now) is used, and the
        question's time cue sets a recency prior (rag/timecues.py), unless settings.time_aware is off."""
        return self._retrieve(question, k, filters, params, self.time_cue(question, as_of), as_of is not None)

    def _retrieve(self, question: str, k: int, filters: Filters, params, cue: TimeCue | None,  # type: ignore[no-untyped-def]
                  explicit: bool) -> list[RetrievedChunk]:
        # An explicit as_of filters by date on both sides, so undated articles (which cannot be
        # shown to predate it) are not used; left at now, undated articles stay and the retriever
        # drops only dated ones after today.
        if cue is not None and explicit:
            until = cue.as_of.isoformat()
            filters = replace(filters, until=min(filters.until, until) if filters.until else until)
        vector = self.embedder.embed([_clip_question(question, self.embedder)])[0]
        return self.retriever.retrieve(question, vector, k, filters, params, cue)

    def resolve_mode(self, mode: Mode) -> Literal["extractive", "llm"]:
        if mode == "auto":
            return "llm" if self.settings.llm_model else "extractive"
        if mode == "llm":
            from rag.llm_client import LLMConfig

            LLMConfig.from_settings(self.settings)  # raises the ConfigError that says what to set
        return mode

    @cached_property
    def llm(self):  # type: ignore[no-untyped-def]
        from rag.llm_client import LLMClient, LLMConfig

        return LLMClient(LLMConfig.from_settings(self.settings))

    def ask(self, question: str, top_k: int | None = None, filters: Filters = Filters(), mode: Mode = "auto",
            history: History = (), as_of: AsOf = None) -> Answer:
        return final_answer(self.ask_stream(question, top_k, filters, mode, history, as_of))

    def ask_stream(self, question: str, top_k: int | None = None, filters: Filters = Filters(),
                   mode: Mode = "auto", history: History = (), as_of: AsOf = None,
                   rank_depth: int | None = None) -> Iterator[Token | Final | Retrieval]:
        """Answer text as it is written, then `Final` with the verified answer.

        `as_of` is when the question is asked (default: now): nothing published later is used.
        With `rank_depth`, a `Retrieval` event comes first with the ranking that deep (the answer
        still draws on the best `top_k`): what `rag eval` scores hit@k and MRR on.
        """
        from rag.llm_client import Deadline

        resolved = self.resolve_mode(mode)
        deadline = Deadline(self.settings.llm_deadline_s)
        query, asked = self.follow_up(question, history, resolved, deadline)
        k = max(top_k or self.settings.top_k, 1)
        cue = self.time_cue(query, as_of)
        chunks = self._retrieve(query, max(k, rank_depth or 0), filters, None, cue, as_of is not None)
        if rank_depth:
            yield Retrieval(chunks=chunks, time_cue=cue.describe() if cue else None)
        chunks = chunks[:k]
        day = cue.as_of.isoformat() if cue else None
        for event in self.answer_stream(asked, chunks, resolved, deadline, day):
            if isinstance(event, Final):
                update: dict[str, object] = {"as_of": day}
                if query != question:
                    update |= {"question": question, "standalone_question": query}
                if cue is not None and (stale := stale_notice(cue, event.answer, chunks)):
                    update["notice"] = f"{event.answer.notice} {stale}" if event.answer.notice else stale
                event = Final(answer=event.answer.model_copy(update=update))
            yield event

    def follow_up(self, question: str, history: History, mode: str, deadline=None) -> tuple[str, str]:  # type: ignore[no-untyped-def]
        """(what to retrieve with, what to answer). An LLM rewrites a follow-up into a standalone
        question used for both; without one, the follow-up joined to the previous question is
        retrieved with, and the follow-up as asked is answered (evals/datasets/followups.jsonl:
        answer recall 0.71 this way, 0.59 answering the joined question)."""
        from rag.answering.followup import rewrite

        turns = list(history)[-self.settings.llm_history_turns:] if self.settings.llm_history_turns else []
        if mode == "llm":
            from rag.llm_client import Deadline

            standalone = rewrite(question, turns, self.llm, deadline or Deadline(self.settings.llm_deadline_s))
            return standalone, standalone
        return rewrite(question, turns, None, deadline), question

    def answer_stream(self, question: str, chunks: list[RetrievedChunk], mode: Literal["extractive", "llm"],
                      deadline=None, as_of: str | None = None) -> Iterator[Token | Final]:  # type: ignore[no-untyped-def]
        if mode == "extractive":
            answer = self.answer_from(question, chunks)
            if not answer.refused:
                yield Token(text=answer.answer)
            yield Final(answer=answer)
            return
        from rag.answering.claims import ClaimParams
        from rag.answering.llm import LLMContext, answer_with_llm
        from rag.answering.sources import build_sources
        from rag.llm_client import Deadline

        s = self.settings
        texts: dict[str, str] = {}

        def article_text(article_id: str) -> str | None:
            if article_id not in texts:
                found = self.store.get_article(article_id)
                if found is None:
                    return None
                texts[article_id] = found[1]
            return texts[article_id]

        sources = build_sources(chunks, article_text, self._count_one,
                                s.llm_context_tokens, s.llm_whole_article_tokens)

        def fallback(notice: str) -> Answer:
            return self.answer_from(question, chunks, "extractive-fallback").model_copy(update={"notice": notice})

        ctx = LLMContext(self.llm, self.embedder.embed, lambda a, st, en: self._chunk_id_at(chunks, a, st, en),
                         fallback, ClaimParams())
        yield from answer_with_llm(question, chunks, sources, texts, ctx, deadline or Deadline(s.llm_deadline_s),
                                   as_of=as_of)

    def _chunk_id_at(self, chunks: list[RetrievedChunk], article_id: str, start: int, end: int) -> str:
        """The chunk holding most of a span: a retrieved one if it can, else any of the article's."""
        def best(pool: Sequence[RetrievedChunk]) -> RetrievedChunk | None:
            hits = [c for c in pool if c.article_id == article_id and c.start < end and c.end > start]
            return max(hits, key=lambda c: min(c.end, end) - max(c.start, start), default=None)

        found = best(chunks) or best(self.store.article_chunks(article_id))
        if found is None:
            raise ConfigError(f"no chunk of {article_id} holds {start}-{end}; re-ingest it")
        return found.chunk_id

    def answer_from(self, question: str, chunks: list[RetrievedChunk], mode: str = "extractive") -> Answer:
        result = extract(question, _time_weighted(chunks, self.settings.hybrid_alpha), self.params,
                         self.store.article_chunks)
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
        # Extractive answers are the articles' own sentences: verified and supported by construction.
        verification = Verification(quotes_total=len(citations), verified=len(citations),
                                    sentences_total=len(citations))
        return Answer(question=question, answer=text, refused=False, mode=mode,
                      citations=citations, retrieved=retrieved, verification=verification)


def _prefetched(pool: ThreadPoolExecutor, items: Iterator[T], ahead: int = 2) -> Iterator[T]:
    """Yield from `items`, computing up to `ahead` of them in `pool` before they are asked for."""
    sentinel = object()
    futures = [pool.submit(next, items, sentinel) for _ in range(ahead)]
    while True:
        item = futures.pop(0).result()
        if item is sentinel:
            return
        futures.append(pool.submit(next, items, sentinel))
        yield item  # type: ignore[misc]


def _lexical_row(article: Article, chunk: Chunk, vector):  # type: ignore[no-untyped-def]
    from rag.lexical import LexicalRow
    from rag.store import date_number

    as_retrieved = RetrievedChunk(chunk_id=chunk.id, article_id=article.id, index=chunk.index, start=chunk.start,
                                  end=chunk.end, text=chunk.text, title=article.title,
                                  published_at=article.published_at, source=article.source, score=0.0,
                                  starts_paragraph=chunk.starts_paragraph)
    return LexicalRow(as_retrieved, date_number(article.published_at) if article.published_at else None, vector)


def _time_weighted(chunks: list[RetrievedChunk], dense_share: float) -> list[RetrievedChunk]:
    """The chunks with the recency prior added to the similarity the extractive answerer ranks
    sentences by (in cosine units: the prior is in fused units, where the cosine counts
    `dense_share`), so the answer comes from the article retrieval preferred for its date."""
    scale = 1 / max(dense_share, 0.1)
    return [c.model_copy(update={"dense_score": c.dense_score + scale * c.recency})
            if c.recency and c.dense_score is not None else c for c in chunks]


def _clip_question(question: str, embedder: Embedder) -> str:
    """Questions longer than the model's window are cut to it rather than rejected."""
    if len(question) < 600 or embedder.count_tokens([question])[0] <= embedder.max_tokens:
        return question
    words = question.split()
    while words and embedder.count_tokens([" ".join(words)])[0] > embedder.max_tokens:
        words = words[: int(len(words) * 0.8)]
    return " ".join(words)
