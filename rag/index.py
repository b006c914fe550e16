"""ChunkIndex: the one door to storage. It owns both halves, the Chroma collections (rag/store.py,
the truth, shared by every host) and the BM25 index (rag/lexical.py, a per-replica cache), and
offers write, delete, search, get and list. The pipeline, and through it the CLI, the API, the
eval and the benchmarks, touch storage only here.

The invariant, after every write and delete has returned (docs/design.md, "Index layer"):
an article record with hash H and n_chunks N  <=>  exactly N chunks of that article in Chroma,
all carrying H  <=>  (on every replica, within the staleness bound) exactly those N rows in BM25.
Writes to one article are serialised by its lease in Chroma (any process, any host), so two
writers never interleave; each replica applies changes by per-article `seq`, newest wins.

How a replica keeps up (no full diff, nothing on the search path):
- Its own writes go to its BM25 index at once, still under the lease.
- Other writers' changes arrive through the change feed: every `sync_staleness_s` (default 1 s)
  it reads the feed's entries from its position minus `sync_skew_s` (the clock skew tolerated
  between writer hosts), skips those it holds at that seq already, and re-reads the rest from
  the store (record and chunks, checked against each other). In a server (`start_background`)
  a thread does this; a one-shot process (CLI) does it before a search when it is due.
- A new replica loads every article's record and chunk texts first (no vectors), paging by article
  in large batches fetched ahead of the indexing, in one SQLite transaction; until then searches
  are dense only and /readyz says so. Then it fills in the chunks' vectors (kept so lexical hits
  get their cosine without a round trip) a batch at a time between feed reads (a one-shot
  process right after its load); meanwhile the retriever asks the store for the few vectors a
  search needs that are not in yet.
- Every `full_check_s` (default hourly) it compares its article list with the store's, repairs
  any drift and logs it.
"""

from __future__ import annotations

import gc
import logging
import pickle
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rag.language import StemItem
from rag.lexical import LexicalIndex, LoadPage, load_page, load_texts
from rag.retrieval import RetrievalParams, Retriever
from rag.stem_worker import StemWorker
from rag.store import ArticleState, ChunkStore
from rag.types import Article, ArticleInfo, Chunk, Filters, RetrievedChunk, StoredChunk

if TYPE_CHECKING:
    import numpy as np

    from rag.timecues import TimeCue

log = logging.getLogger("rag.index")
_FEED_BATCH = 200  # articles re-read from the store per request when applying the feed
_LOAD_BATCH = 500  # articles per request in a cold load (about 1,700 chunks, texts only)
_LOAD_AHEAD = 2  # batches fetched ahead of the one being indexed
_LOAD_FETCHERS = 2  # batch requests in flight during a load
_VECTOR_BATCH = 500  # vectors filled in per request after a load
_WORKER_ABOVE = 1000  # articles: a load of more has its texts stemmed by a second process


@dataclass
class SyncStats:
    """What the replica's follower did, for /readyz, the benchmarks and the tests."""

    polls: int = 0
    applied: int = 0
    last_poll_s: float = 0.0  # duration of the last poll (wall: with a search running, partly waiting for the GIL)
    last_poll_cpu_s: float = 0.0  # the CPU time the follower's thread spent on it
    last_poll_at: float = 0.0  # time.monotonic() of the last poll
    load_s: float | None = None  # how long the cold load took (to lexical search)
    vectors_s: float | None = None  # how long filling in the vectors after it took
    worker_peak_rss_mb: float | None = None  # the load's stem worker's peak memory
    lags_s: deque[float] = field(default_factory=lambda: deque(maxlen=1000))  # write -> applied here, per change
    full_checks: int = 0
    last_drift: int = 0
    drift_ids: list[str] = field(default_factory=list)


class ChunkIndex:
    def __init__(self, store: ChunkStore, lexical: LexicalIndex, params: RetrievalParams,
                 staleness_s: float = 1.0, skew_s: float = 30.0, full_check_s: float = 3600.0) -> None:
        self.store = store
        self.lexical = lexical
        self.staleness_s = staleness_s
        self.skew_s = skew_s
        self.full_check_s = full_check_s
        self.retriever = Retriever(store, lexical, params, lexical_ready=self.lexical_ready)
        self.stats = SyncStats()
        self._ready = False
        self._loading = False
        self._follow_lock = threading.Lock()  # one follower at a time in this process (single flight)
        self._background: threading.Thread | None = None
        self._stop = threading.Event()
        self._last_full = time.monotonic()

    # --- reads ------------------------------------------------------------------------------

    def get_article(self, article_id: str) -> tuple[ArticleInfo, str] | None:
        return self.store.get_article(article_id)

    def list_articles(self, offset: int = 0, limit: int = 100) -> list[ArticleInfo]:
        return self.store.list_articles(offset, limit)

    def count_articles(self) -> int:
        return self.store.count_articles()

    def count_chunks(self) -> int:
        return self.store.count_chunks()

    def article_infos(self, ids: Sequence[str]) -> dict[str, ArticleInfo]:
        """Records; one whose chunks are not all stored has an empty hash (never "unchanged")."""
        return self.store.article_infos(ids, verify=True)

    def article_chunks(self, article_id: str) -> list[StoredChunk]:
        return self.store.article_chunks(article_id)

    def get_chunks(self, ids: Sequence[str]) -> list[StoredChunk]:
        return self.store.get_chunks(ids)

    # --- writes -----------------------------------------------------------------------------

    def write(self, items: Sequence[tuple[Article, str, list[Chunk]]], vectors: np.ndarray) -> None:
        """Write articles with their chunks and vectors, each under its lease; this replica's BM25
        index follows before the leases are let go, so its order is the store's."""
        with self.store.lease([a.id for a, _, _ in items]):
            seqs = self.store.write_articles(items, vectors)
            if not self.lexical_ready():
                return  # the load under way, or the next one, reads it from the store
            states, at = [], 0
            for (article, digest, chunks), seq in zip(items, seqs, strict=True):
                rows = vectors[at: at + len(chunks)]
                at += len(chunks)
                info = ArticleInfo(id=article.id, title=article.title, url=article.url, source=article.source,
                                   published_at=article.published_at, content_hash=digest, n_chunks=len(chunks),
                                   language=article.language)
                states.append(ArticleState(article.id, seq, info, _published_ts(article), tuple(
                    (_stored(article, c), v) for c, v in zip(chunks, rows, strict=True))))
            self.lexical.apply(states)

    def delete(self, article_id: str) -> bool:
        with self.store.lease([article_id]):
            existed, seq = self.store.delete_article(article_id)
            if self.lexical_ready():
                self.lexical.apply([ArticleState(article_id, seq, None)])
        return existed

    # --- search -----------------------------------------------------------------------------

    def search(self, question: str, vector: np.ndarray, k: int, filters: Filters = Filters(),
               params: RetrievalParams | None = None, cue: TimeCue | None = None) -> list[RetrievedChunk]:
        if self._background is None:
            self.follow_if_due()
        return self.retriever.retrieve(question, vector, k, filters, params, cue)

    def lexical_ready(self) -> bool:
        # While this process loads, the file is locked for the load: say "not yet" without asking it.
        if not self._ready and not self._loading:
            self._ready = self.lexical.loaded()
        return self._ready

    # --- following the store ----------------------------------------------------------------

    def sync(self) -> int:
        """Catch up now: load when never loaded, then apply every change past the position."""
        if not self.lexical_ready():
            self.load()
        applied = self.follow(wait=True)
        self._fill_all()
        return applied

    def follow_if_due(self) -> None:
        """In a process without a follower thread: load (vectors too: no thread would fill them in
        later), or read the feed when it is due."""
        if not self.lexical_ready():
            self.load()
            self._fill_all()
        elif time.monotonic() - self.stats.last_poll_at >= self.staleness_s:
            self.follow()

    def follow(self, wait: bool = False) -> int:
        """Apply the changes past this replica's position. Single flight: when another thread is
        at it, return at once (or wait for it with `wait`). Returns how many articles changed."""
        if not self._follow_lock.acquire(blocking=wait):
            return 0
        try:
            return self._follow()
        finally:
            self._follow_lock.release()

    def _follow(self) -> int:
        started, cpu = time.monotonic(), time.thread_time()
        position = float(self.lexical.get_state("position") or 0.0)
        changes = self.store.changes_since(position - self.skew_s)
        held = self.lexical.seqs([c.article_id for c in changes])
        todo = [c for c in changes if held.get(c.article_id, -1.0) < c.seq]
        applied = 0
        # A delete's entry is its tombstone and a write's carries its record: only the chunks
        # (by id) are read, one request per batch. Older entries without a record read it too.
        tombstones = [ArticleState(c.article_id, c.seq, None) for c in todo if c.op == "delete"]
        if tombstones:
            applied += self.lexical.apply(tombstones)
        written = [c for c in todo if c.op != "delete" and c.record is not None]
        for lo in range(0, len(written), _FEED_BATCH):
            batch = written[lo: lo + _FEED_BATCH]
            states = self.store.states([c.article_id for c in batch], True,
                                       {c.article_id: c.record for c in batch if c.record is not None})
            applied += self.lexical.apply(states)
        bare = [c.article_id for c in todo if c.op != "delete" and c.record is None]
        for lo in range(0, len(bare), _FEED_BATCH):
            applied += self.lexical.apply(self.store.states(bare[lo: lo + _FEED_BATCH]))
        if applied:
            now, held = time.time(), self.lexical.seqs([c.article_id for c in todo])
            # how long after its write each change became searchable here (the writer's clock: skew shows)
            self.stats.lags_s.extend(now - c.seq for c in todo if held.get(c.article_id, -1.0) >= c.seq)
        newest = max((c.seq for c in changes), default=position)
        if newest > position:
            self.lexical.set_state("position", repr(newest))
        self.stats.polls += 1
        self.stats.applied += applied
        self.stats.last_poll_at = time.monotonic()
        self.stats.last_poll_s = self.stats.last_poll_at - started
        self.stats.last_poll_cpu_s = time.thread_time() - cpu
        return applied

    def load(self) -> None:
        """A new replica's first fill: every article with its chunk texts (the vectors follow,
        `fill_vectors`), read by id, into one SQLite transaction."""
        with self._follow_lock:
            if self.lexical.loaded():
                self._ready = True
                return
            started = time.monotonic()
            position = time.time()  # the feed is read again from here (minus the skew) after the load
            self._loading = True
            try:
                n = self.lexical.bulk_load(self._pages(), position)
            finally:
                self._loading = False
            self._ready = True
            self.stats.load_s = time.monotonic() - started
            log.info("lexical index loaded: %d chunks in %.1f s", n, self.stats.load_s)
            self._follow()

    def _pages(self) -> Iterator[LoadPage]:
        """The store's articles with their chunk texts as rows to insert. A thread fetches them up
        to `_LOAD_AHEAD` batches ahead and has a second process stem them (rag/stem_worker.py), so
        the server reads, the worker stems, and this thread inserts, all at once."""
        ahead: queue.Queue[tuple[list[ArticleState], list[str] | None] | BaseException | None] = \
            queue.Queue(maxsize=_LOAD_AHEAD)
        stop = threading.Event()

        def hand(item: tuple[list[ArticleState], list[str] | None] | BaseException | None) -> bool:
            while not stop.is_set():
                try:
                    ahead.put(item, timeout=0.5)
                    return True
                except queue.Full:
                    continue
            return False  # the loader has stopped reading

        def fetch() -> None:
            worker: StemWorker | None = None
            pending: list[ArticleState] | None = None
            try:
                ids = self.store.article_ids()
                if len(ids) > _WORKER_ABOVE:  # a small store loads before a process would start
                    worker = _stem_worker()
                for states in self._load_batches(ids):
                    # the worker stems the pending batch while this one was fetched: collect it, then
                    # hand it the new one (in this order, so neither side blocks on a full pipe)
                    stems = _receive(worker) if pending is not None and worker is not None else None
                    if stems is None and pending is not None and worker is not None:
                        worker.close()  # it failed: stem the rest in the loading thread
                        worker = None
                    if worker is not None and not _send(worker, load_texts(states)):
                        worker = None
                    if pending is not None and not hand((pending, stems)):
                        return
                    pending = states
                if pending is not None:
                    hand((pending, _receive(worker) if worker is not None else None))
                hand(None)
            except BaseException as exc:  # handed to the loader, which raises it
                hand(exc)
            finally:
                if worker is not None:
                    self.stats.worker_peak_rss_mb = worker.peak_rss_mb()
                    worker.close()

        thread = threading.Thread(target=fetch, name="rag-load", daemon=True)
        thread.start()
        n = 0
        try:
            while (item := ahead.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                states, stems = item
                page = load_page(states, n + 1, stems)
                n += len(page.rows)
                yield page
                _collect_responses()
        finally:
            stop.set()
            thread.join()

    def _load_batches(self, ids: list[str]) -> Iterator[list[ArticleState]]:
        """Every article with its chunk texts (no vectors), in order, `_LOAD_BATCH` articles a
        batch (records and chunks read by id: no offset paging but over the ids), with up to
        `_LOAD_FETCHERS` batches in flight, so the server reads on every core it has."""
        with ThreadPoolExecutor(max_workers=_LOAD_FETCHERS, thread_name_prefix="rag-load-fetch") as pool:
            flying: deque[Future[list[ArticleState]]] = deque()
            try:
                for lo in range(0, len(ids), _LOAD_BATCH):
                    flying.append(pool.submit(self.store.states, ids[lo: lo + _LOAD_BATCH], True, None, False))
                    if len(flying) > _LOAD_FETCHERS:
                        yield flying.popleft().result()
                while flying:
                    yield flying.popleft().result()
            finally:
                for future in flying:
                    future.cancel()

    def fill_vectors(self) -> bool:
        """Fill in one batch of the vectors a load left out. Returns whether any are left. The
        row reached is kept in the index file, so a restarted replica goes on from there."""
        if not self.lexical_ready():
            return False
        after = self.lexical.get_state("vectors_after")
        if after is None:
            return False
        started = time.monotonic()
        rows = self.lexical.without_vectors(int(after), _VECTOR_BATCH)
        if rows:
            self.lexical.set_vectors(self.store.vectors([chunk_id for _, chunk_id in rows]))
        self.lexical.set_state("vectors_after", str(rows[-1][0]) if rows else None)
        _collect_responses()
        self.stats.vectors_s = (self.stats.vectors_s or 0.0) + time.monotonic() - started
        return bool(rows)

    def full_check(self) -> int:
        """Compare this replica's articles with the store's; repair and report any drift."""
        with self._follow_lock:
            held = self.lexical.live()
            stored: dict[str, tuple[float, str]] = {}
            for page in self.store.article_pages():
                stored.update({info.id: (seq, info.content_hash) for info, seq, _ in page})
            drift = sorted({i for i in stored if held.get(i, (None, None))[1] != stored[i][1]}
                           | (held.keys() - stored.keys()))
            for lo in range(0, len(drift), _FEED_BATCH):
                self.lexical.apply(self.store.states(drift[lo: lo + _FEED_BATCH]), force=True)
            self.stats.full_checks += 1
            self.stats.last_drift = len(drift)
            self.stats.drift_ids = drift[:20]
            self._last_full = time.monotonic()
        if drift:
            log.warning("full check: %d articles had drifted from the store (repaired): %s", len(drift), drift[:5])
        return len(drift)

    def start_background(self) -> None:
        """Follow the store from a thread (servers): searches then never wait on the store's feed."""
        if self._background is not None:
            return
        self._stop.clear()
        self._background = threading.Thread(target=self._run, name="rag-index-follower", daemon=True)
        self._background.start()

    def wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not self.lexical_ready() and time.monotonic() < deadline and self._background is not None:
            time.sleep(0.05)
        return self.lexical_ready()

    def stop_background(self) -> None:
        self._stop.set()
        if self._background is not None:
            self._background.join(timeout=10)
            self._background = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.lexical_ready():
                    self.load()
                elif time.monotonic() - self._last_full >= self.full_check_s:
                    self.full_check()
                else:
                    self.follow()
                    if self._fill_until(time.monotonic() + self.staleness_s):
                        continue  # more to fill: the feed is read again first, no wait
            except Exception as exc:  # a store hiccup: log, try again on the next tick
                log.warning("index follower: %s: %s", type(exc).__name__, exc)
            self._stop.wait(self.staleness_s)

    def _fill_all(self) -> None:
        while self.fill_vectors():
            pass

    def _fill_until(self, deadline: float) -> bool:
        """Fill in vectors until `deadline` (the next feed read is due). Returns whether any are left."""
        while time.monotonic() < deadline and not self._stop.is_set():
            if not self.fill_vectors():
                return False
        return self.lexical.get_state("vectors_after") is not None

    def status(self) -> str:
        if not self.lexical_ready():
            return "loading (searching dense only until the BM25 index is ready)"
        drift = f", last full check repaired {self.stats.last_drift}" if self.stats.last_drift else ""
        filling = ", filling in the chunk vectors" if self.lexical.get_state("vectors_after") is not None else ""
        return f"ok{drift}{filling}"

    # --- the invariant ----------------------------------------------------------------------

    def consistency(self, article_id: str) -> dict[str, Any]:
        """Record, chunks and BM25 rows of one article, counted (tests and operators)."""
        found = self.store.article_infos([article_id], verify=True).get(article_id)
        chunks = len(self.store.chunk_ids(article_id))
        rows = self.lexical.article_rows(article_id)
        n = found.n_chunks if found else 0
        return {"record": found is not None, "n_chunks": n, "chunks": chunks, "bm25_rows": rows,
                "ok": (found is None and chunks == 0 and rows == 0)
                or (found is not None and found.content_hash != "" and chunks == n and rows == n)}


def _collect_responses() -> None:
    """Free the Chroma client's last responses now. They sit in reference cycles, so only the
    cyclic GC frees them, and it counts objects, not bytes: a load's or a fill-in's megabyte-sized
    responses piled up (at 100k chunks, 50-100 MB of a fill-in's peak). The young generations
    hold them; collecting those takes well under a millisecond."""
    gc.collect(1)


def _stem_worker() -> StemWorker | None:
    try:
        return StemWorker()
    except OSError as exc:
        log.warning("stemming in this process: the stem worker did not start: %s", exc)
        return None


def _send(worker: StemWorker, texts: list[StemItem]) -> bool:
    try:
        worker.send(texts)
        return True
    except OSError as exc:
        log.warning("stemming in this process: the stem worker stopped: %s", exc)
        return False


def _receive(worker: StemWorker) -> list[str] | None:
    try:
        return worker.receive()
    except (OSError, EOFError, pickle.UnpicklingError) as exc:
        log.warning("stemming in this process: the stem worker stopped: %s", exc)
        return None


def _published_ts(article: Article) -> int | None:
    from rag.store import date_number

    return date_number(article.published_at) if article.published_at else None


def _stored(article: Article, chunk: Chunk) -> StoredChunk:
    return StoredChunk(chunk_id=chunk.id, article_id=article.id, index=chunk.index, start=chunk.start,
                       end=chunk.end, text=chunk.text, title=article.title, published_at=article.published_at,
                       source=article.source, starts_paragraph=chunk.starts_paragraph, language=article.language)
