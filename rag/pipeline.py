"""Pipeline: the one object the CLI, the API and the eval runner drive.

Data flows one way: loaders -> chunking -> embedding -> store; question -> retrieval ->
answering -> citations -> Answer. Everything heavy (model, Chroma client) loads on first use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Literal, TypeVar, cast

from rag.answering.context import AnswerContext, ArticleReader, When
from rag.answering.extractive import Extract, Params, extractive_answer
from rag.answering.followup import rewrite
from rag.chunking import chunk_article
from rag.config import AnswerMode, Mode, Settings
from rag.embedding import CROSS_LEXICAL, Embedder, OpenAIEmbedder, embed_query, is_multilingual, local_embedder
from rag.errors import EmbedderUnavailable, LoadError, RagError
from rag.index import ChunkIndex
from rag.language import with_language
from rag.llm_client import Deadline, LLMClient, LLMConfig
from rag.store import ChunkStore, collection_stem, open_client
from rag.timecues import AsOf, TimeCue, as_of_date, bounds_event, parse_cue, stale_notice
from rag.tokens import get_encoding
from rag.types import (  # Filters is re-exported: callers build it next to the Pipeline
    Answer,
    Article,
    ArticleInfo,
    Chunk,
    Citation,
    Filters,
    Final,
    Retrieval,
    RetrievedChunk,
    StoredChunk,
    Token,
    final_answer,
)

if TYPE_CHECKING:
    import numpy as np

    from rag.crosslingual import SentenceVectors
    from rag.retrieval import RetrievalParams, Retriever

T = TypeVar("T")
Status = Literal["added", "updated", "unchanged", "failed"]
Pending = tuple[Article, str, Status, list[Chunk]]  # an article to write: its hash, status and chunks
History = Sequence[tuple[str, str]]  # (role, text), oldest first; role is "user" or "assistant"
# Articles are chunked, embedded and written in groups of about this many chunks, so a failure of
# the store stops the run but keeps every group written before it; a re-run skips those as
# unchanged (tests/test_faults.py). One article the embedder rejects is a per-article error and
# the rest go on (issue 28); an embedder that fails for every article in a row stops the run.
_EMBED_GROUP = 64
_EMBED_FAILS_IN_A_ROW = 3  # articles failing alike, one by one, before the embedder is taken to be down
_SURELY_FITS_CHARS = 600  # shorter questions skip the token count (ordinary text this short is far below 256)
_CLIP_KEEP = 0.8  # a question over the window is cut to this share of its words until it fits


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
        s = self.settings
        if s.embedder == "openai":
            key = s.embedding_api_key.get_secret_value() if s.embedding_api_key else None
            return OpenAIEmbedder(s.openai_embedding_model, key, s.embedding_base_url)
        return local_embedder(s.embed_model, threads=s.embed_threads)

    @cached_property
    def index(self) -> ChunkIndex:
        """Storage: the Chroma collections and the BM25 index, behind one object (rag/index.py)."""
        from rag.lexical import SCHEMA_VERSION, LexicalIndex
        from rag.retrieval import RetrievalParams

        s = self.settings
        stem = collection_stem(s.collection_prefix, self.embedder.name, s.encoding, s.chunk_tokens,
                               s.chunk_overlap, s.chunk_min_tokens)
        store = ChunkStore(lambda: open_client(s.data_dir, s.chroma_url), stem, lease_s=s.write_lease_s)
        # One index file per store: the server URL (or "embedded") and the collection stem name it.
        where = hashlib.sha1((s.chroma_url or "embedded").encode()).hexdigest()[:8]
        path = (s.lexical_dir or s.data_dir / "lexical") / f"{stem}-{where}-v{SCHEMA_VERSION}.sqlite"
        params = RetrievalParams(method=s.retrieval, fusion=s.hybrid_fusion, alpha=s.hybrid_alpha,
                                 mmr_lambda=s.mmr_lambda,
                                 cross_lexical=CROSS_LEXICAL if is_multilingual(self.embedder) else 1.0)
        return ChunkIndex(store, LexicalIndex(path), params, staleness_s=s.sync_staleness_s, skew_s=s.sync_skew_s,
                          full_check_s=s.full_check_s)

    @property
    def store(self) -> ChunkStore:
        """The Chroma half (kept for callers that need the raw collections; prefer `index`)."""
        return self.index.store

    @property
    def retriever(self) -> Retriever:
        return self.index.retriever

    # Reads, for the CLI and the API (they reach storage only through the pipeline).

    def get_article(self, article_id: str) -> tuple[ArticleInfo, str] | None:
        return self.index.get_article(article_id)

    def list_articles(self, offset: int = 0, limit: int = 100) -> list[ArticleInfo]:
        return self.index.list_articles(offset, limit)

    def count_articles(self) -> int:
        return self.index.count_articles()

    def get_chunks(self, ids: Sequence[str]) -> list[StoredChunk]:
        return self.index.get_chunks(ids)

    def index_status(self) -> str:
        return self.index.status()

    @cached_property
    def _count_tokens(self) -> Callable[[list[str]], list[int]]:
        enc = get_encoding(self.settings.encoding)
        # encode_ordinary per text, not encode_batch: the batch call starts a thread pool on every
        # call, which cost more than the encoding itself for a sentence list (profiled).
        return lambda texts: [len(enc.encode_ordinary(t)) for t in texts]

    @cached_property
    def _count_one(self) -> Callable[[str], int]:
        """Token count of one text, cached: the same articles are sent whole again and again."""
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
        known = self.index.article_infos([a.id for a in articles])
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
            for chunked in _prefetched(chunker, self._groups(todo, report, progress)):
                group, vectors = _embed_each(self.embedder, chunked, report, progress)
                if not group:
                    continue
                if pending_write is not None:
                    pending_write.result()  # surfaces a failed write before the next one starts
                pending_write = writer.submit(self._write_group, group, vectors, report, progress)
            if pending_write is not None:
                pending_write.result()
        return report

    def _groups(self, todo: list[tuple[Article, str, Status]], report: IngestReport,
                progress: Callable[[int], None] | None = None) -> Iterator[list[Pending]]:
        group: list[Pending] = []
        for article, digest, status in todo:
            try:
                article = with_language(article)
                chunks = self.chunk(article, digest)
            except RagError:
                raise
            except Exception as exc:  # one article the chunker cannot cut is that article's error
                _failed(report, article.id, f"could not be chunked: {_describe(exc)}", progress)
                continue
            group.append((article, digest, status, chunks))
            if sum(len(g[3]) for g in group) >= _EMBED_GROUP:
                yield group
                group = []
        if group:
            yield group

    def _write_group(self, group: list[Pending], vectors: np.ndarray, report: IngestReport,
                     progress: Callable[[int], None] | None) -> None:
        self.index.write([(article, digest, chunks) for article, digest, _, chunks in group], vectors)
        for article, _, status, chunks in group:
            report.results.append((article.id, status, f"{len(chunks)} chunks"))
            if progress:
                progress(1)

    # --- questions ------------------------------------------------------------------------

    def delete_article(self, article_id: str) -> bool:
        return self.index.delete(article_id)

    def time_cue(self, question: str, as_of: AsOf = None) -> TimeCue | None:
        """The question's time cue resolved against `as_of` (default: now); None when time-awareness is off."""
        if not self.settings.time_aware:
            return None
        return parse_cue(question, as_of_date(as_of))

    def retrieve(self, question: str, k: int, filters: Filters = Filters(),
                 params: RetrievalParams | None = None, as_of: AsOf = None) -> list[RetrievedChunk]:
        """The best `k` chunks. Nothing published after `as_of` (default: now) is used, and the
        question's time cue sets a recency prior (rag/timecues.py), unless settings.time_aware is off."""
        return self._retrieve(question, k, filters, params, self.time_cue(question, as_of), as_of is not None)

    def _retrieve(self, question: str, k: int, filters: Filters, params: RetrievalParams | None,
                  cue: TimeCue | None, explicit: bool) -> list[RetrievedChunk]:
        # An explicit as_of filters by date on both sides, so undated articles (which cannot be
        # shown to predate it) are not used; left at now, undated articles stay and the retriever
        # drops only dated ones after today.
        if cue is not None and explicit:
            until = cue.as_of.isoformat()
            filters = replace(filters, until=min(filters.until, until) if filters.until else until)
        vector = embed_query(self.embedder, [_clip_question(question, self.embedder)])[0]
        found = self.index.search(question, vector, k, filters, params, cue)
        if not is_multilingual(self.embedder):
            return found
        from rag.crosslingual import rerank  # across scripts: by the closest sentence too (issue 28)

        return rerank(question, vector, found, self._sentence_vectors)

    def resolve_mode(self, mode: Mode) -> AnswerMode:
        if mode == "auto":
            return "llm" if self.settings.llm_model else "extractive"
        if mode == "llm":
            LLMConfig.from_settings(self.settings)  # raises the ConfigError that says what to set
        return mode

    @cached_property
    def llm(self) -> LLMClient:
        client = LLMClient(LLMConfig.from_settings(self.settings))
        if self.settings.llm_cache is None:
            return client
        from rag.llm_cache import CachedLLM

        return CachedLLM(client, self.settings.llm_cache)

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
        resolved = self.resolve_mode(mode)
        deadline = Deadline(self.settings.llm_deadline_s)
        query, asked = self.follow_up(question, history, resolved, deadline)
        k = max(top_k or self.settings.top_k, 1)
        cue = self.time_cue(query, as_of)
        chunks = self._retrieve(query, max(k, rank_depth or 0), filters, None, cue, as_of is not None)
        if rank_depth:
            yield Retrieval(chunks=chunks, time_cue=cue.describe() if cue else None)
        chunks = chunks[:k]
        # The refusal model may weigh the evidence's age only when the asker gave the date and the
        # question bounds its event to the days before it (rag/timecues.py bounds_event).
        plain = as_of is not None and cue is not None and cue.kind == "none"
        when = When(cue.as_of if cue else None, dated=as_of is not None and cue is not None and bounds_event(asked),
                    asked=plain)
        for event in self._answer(asked, chunks, resolved, when, deadline, query if query != asked else None):
            if isinstance(event, Final):
                update: dict[str, object] = {"as_of": when.prompt_day,
                                             "citations": _with_languages(event.answer, chunks)}
                if query != question:
                    update |= {"question": question, "standalone_question": query}
                if cue is not None and (stale := stale_notice(cue, event.answer, chunks)):
                    update["notice"] = f"{event.answer.notice} {stale}" if event.answer.notice else stale
                event = Final(answer=event.answer.model_copy(update=update))
            yield event

    def follow_up(self, question: str, history: History, mode: str,
                  deadline: Deadline | None = None) -> tuple[str, str]:
        """(what to retrieve with, what to answer). An LLM rewrites a follow-up into a standalone
        question used for both; without one, the follow-up joined to the previous question is
        retrieved with, and the follow-up as asked is answered. Offline, on the 20 follow-ups: hit@5
        0.88 and answer recall 0.82 this way, 0.82 and 0.59 with the history ignored (`rag eval
        --dataset evals/datasets/followups.jsonl --corpus seeds --corpus evals/corpus`, then the
        same with `--ignore-history`)."""
        turns = list(history)[-self.settings.llm_history_turns:] if self.settings.llm_history_turns else []
        if mode == "llm":
            standalone = rewrite(question, turns, self.llm, deadline or Deadline(self.settings.llm_deadline_s))
            return standalone, standalone
        return rewrite(question, turns, None, deadline), question

    def answer_stream(self, question: str, chunks: list[RetrievedChunk], mode: AnswerMode,
                      deadline: Deadline | None = None, as_of: str | None = None,
                      dated: bool = False, asked: bool = False, about: str | None = None) -> Iterator[Token | Final]:
        """`as_of`: the day the question is asked (the LLM prompt says it); `dated`: the asker gave
        it and the question bounds its event, so the extractive refusal model may use the article's
        age (rag/answering/evidence.py); `asked`: the asker gave it and the question names no time of
        its own (a confidence signal, rag/answering/confidence.py); `about`: what was retrieved with,
        when it is not the question (a follow-up joined to the one before: its confidence, fitted
        on standalone questions, is reported but refuses nothing)."""
        yield from self._answer(question, chunks, mode, When.of(as_of, dated, asked), deadline, about)

    def _answer(self, question: str, chunks: list[RetrievedChunk], mode: AnswerMode, when: When,
                deadline: Deadline | None, about: str | None = None) -> Iterator[Token | Final]:
        """Pick the answerer and stream it (rag/answering/)."""
        from rag.answering import answerer_for
        from rag.answering.flow import answer_events

        ctx = self.answer_context(question, chunks, mode, when, deadline)
        ctx.about = about
        yield from answer_events(answerer_for(mode, self.settings), ctx)

    def answer_context(self, question: str, chunks: list[RetrievedChunk], mode: AnswerMode = "extractive",
                       when: When = When(), deadline: Deadline | None = None) -> AnswerContext:
        """What an answerer may use for this question (rag/answering/context.py)."""
        llm = mode == "llm"
        # MiniLM's cosines across languages say nothing: only a multilingual embedder re-chooses
        # the sentences of an answer from an article in another script (rag/crosslingual.py).
        refine = self._across_languages if is_multilingual(self.embedder) else None
        return AnswerContext(question, chunks, ArticleReader(self.index), self.settings, when,
                             llm=self.llm if llm else None, embed=self.embedder.embed if llm else None,
                             count_tokens=self._count_one, params=self.params,
                             deadline=deadline or (Deadline(self.settings.llm_deadline_s) if llm else None),
                             refine=refine)

    def extract(self, question: str, chunks: list[RetrievedChunk], as_of: str | None = None) -> Extract:
        """The extractive answer's sentences, or its refusal and the reason (`python -m rag.fit refusal`
        fits the refusal decision on exactly this). `as_of`: the day the question was asked, when
        the asker said so (not a default today)."""
        return self.answer_context(question, chunks, when=When.of(as_of, dated=True)).found

    def _across_languages(self, question: str, found: Extract, chunks: list[RetrievedChunk]) -> Extract:
        """An answer from an article in another script than the question: its sentences chosen
        by the embedder's similarity instead of shared words (rag/crosslingual.py, issue 28)."""
        from rag.crosslingual import across_languages

        return across_languages(question, found, lambda: self._question_vector(question), self._sentence_vectors,
                                chunks)

    @cached_property
    def _sentence_vectors(self) -> SentenceVectors:
        from rag.crosslingual import SentenceVectors

        return SentenceVectors(self.embedder.embed)

    def _question_vector(self, question: str) -> np.ndarray:
        return embed_query(self.embedder, [_clip_question(question, self.embedder)])[0]

    def answer_from(self, question: str, chunks: list[RetrievedChunk], mode: str = "extractive",
                    as_of: str | None = None) -> Answer:
        return extractive_answer(question, chunks, self.extract(question, chunks, as_of), mode)


def _embed_each(embedder: Embedder, group: list[Pending], report: IngestReport,
                progress: Callable[[int], None] | None) -> tuple[list[Pending], np.ndarray]:
    """The group's chunk vectors in one call; when that fails, each article's alone, so one
    article the embedder rejects is reported, naming it, and the others are kept. The articles
    embedded, with their vectors."""
    try:
        return group, embedder.embed([c.text for *_, chunks in group for c in chunks])
    except RagError:
        raise
    except Exception:
        pass
    import numpy as np

    kept: list[Pending] = []
    parts: list[np.ndarray] = []
    in_a_row: list[Exception] = []
    for pending in group:
        try:
            vectors = embedder.embed([c.text for c in pending[3]])
        except RagError:
            raise
        except Exception as exc:
            in_a_row.append(exc)
            _failed(report, pending[0].id, f"could not be embedded: {_describe(exc)}", progress)
            if len(in_a_row) >= _EMBED_FAILS_IN_A_ROW and not isinstance(exc, ValueError) \
                    and len({type(e) for e in in_a_row[-_EMBED_FAILS_IN_A_ROW:]}) == 1:
                raise EmbedderUnavailable(
                    f"the embedder {embedder.name} failed on {len(in_a_row)} articles in a row ({_describe(exc)}); "
                    "fix it and re-run the command: what was written is kept and unchanged articles are "
                    "skipped") from exc
            continue
        in_a_row = []
        kept.append(pending)
        parts.append(vectors)
    return kept, (np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32))


def _failed(report: IngestReport, article_id: str, reason: str, progress: Callable[[int], None] | None) -> None:
    report.results.append((article_id, "failed", reason))
    if progress:
        progress(1)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _prefetched(pool: ThreadPoolExecutor, items: Iterator[T], ahead: int = 2) -> Iterator[T]:
    """Yield from `items`, computing up to `ahead` of them in `pool` before they are asked for."""
    sentinel = object()
    futures = [pool.submit(next, items, sentinel) for _ in range(ahead)]
    while True:
        item = futures.pop(0).result()
        if item is sentinel:
            return
        futures.append(pool.submit(next, items, sentinel))
        yield cast(T, item)


def _with_languages(answer: Answer, chunks: list[RetrievedChunk]) -> list[Citation]:
    """The answer's citations, each marked with its article's language (issue 28)."""
    language = {c.article_id: c.language for c in chunks}
    return [c.model_copy(update={"language": language.get(c.article_id)}) for c in answer.citations]


def _clip_question(question: str, embedder: Embedder) -> str:
    """Questions longer than the model's window are cut to it rather than rejected."""
    if len(question) < _SURELY_FITS_CHARS or embedder.count_tokens([question])[0] <= embedder.max_tokens:
        return question
    words = question.split()
    while words and embedder.count_tokens([" ".join(words)])[0] > embedder.max_tokens:
        words = words[: int(len(words) * _CLIP_KEEP)]
    return " ".join(words)
