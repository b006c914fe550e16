"""ChunkStore: the Chroma half of the index layer (rag/index.py), embedded or behind `chroma run`.

Four collections share one name stem that encodes the embedder and the chunking settings, so
changing either never mixes vectors:
- `<stem>-chunks`: one vector per chunk (cosine space). Its metadata holds only what a chunk
  needs to be found and filtered: article id, offsets, `published_ts` and `source` (the filter
  keys). Title, url and date live once, on the article record, and are looked up per article.
- `<stem>-articles`: one record per article: its text, metadata, content hash, chunk count and
  `seq`, the time of its last change.
- `<stem>-changes`: the change feed, one entry per article id (`seq`, `op`: write | delete), the
  latest change wins. A delete leaves its entry behind as the tombstone. Replicas read the
  entries past their position (rag/index.py).
- `<stem>-leases`: per-article write leases. Chroma ignores an `add` of an id that exists, so
  the first writer's entry stands and a writer holds a lease when the entry carries its token.

A lease older than `lease_s`, or held by a process of this host that is gone, is taken over.
A write of an article runs under its lease: new chunks first (their ids carry the content hash),
then the other versions' chunks are deleted, then the record (the commit mark), then the
change. Nobody else writes that article meanwhile, so the record always matches its chunks once
the write ends, and an interrupted write heals when run again.

Every chromadb failure leaves this module as StoreUnavailable (cannot connect) or StoreError.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar
from urllib.parse import urlparse

from rag import chunking
from rag.errors import ConfigError, StoreBusy, StoreError, StoreUnavailable
from rag.ids import chunk_id as make_chunk_id
from rag.types import Article, ArticleInfo, Chunk, Filters, RetrievedChunk, StoredChunk

if TYPE_CHECKING:
    import numpy as np

P = ParamSpec("P")
R = TypeVar("R")

ARTICLE_PAGE = 5000  # article records per page when listing the whole store
ARTICLE_ID_PAGE = 20_000  # article ids per page when listing ids only
CHUNK_PAGE_ARTICLES = 250  # articles whose chunks are fetched in one request (about 1,000 chunks)


def collection_stem(prefix: str, embedder: str, encoding: str, chunk_tokens: int, overlap: int,
                    min_tokens: int) -> str:
    key = f"{embedder}|{encoding}|{chunk_tokens}|{overlap}|{min_tokens}|v{chunking.CHUNKER_VERSION}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return f"{prefix}-{embedder}-t{chunk_tokens}o{overlap}-{digest}"


def open_client(data_dir: Path, chroma_url: str | None) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"RAG_CHROMA_URL must look like http://host:port, got {chroma_url!r}")
        try:
            return chromadb.HttpClient(
                host=url.hostname, port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https", settings=chroma_settings,
            )
        except Exception as exc:  # chromadb raises plain exceptions for connection errors
            raise StoreUnavailable(f"cannot reach the Chroma server at {chroma_url}: {exc}") from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(data_dir), settings=chroma_settings)


def is_connection_error(exc: BaseException) -> bool:
    """Chroma's HTTP client surfaces a stopped server as httpx, plain connection or generic errors
    naming the connection; this recognises them along the exception chain."""
    import httpx

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (httpx.TransportError, ConnectionError, StoreUnavailable)):
            return True
        text = str(seen)
        if "Could not connect to" in text or "Connection refused" in text or "connection" in text.lower() and \
                "error" in text.lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _mapped(method: Callable[P, R]) -> Callable[P, R]:
    """chromadb's exceptions become the project's own: the callers never see chromadb."""
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (StoreError, StoreUnavailable, StoreBusy, ConfigError):
            raise
        except Exception as exc:
            if is_connection_error(exc):
                raise StoreUnavailable(f"the vector store is unreachable: {exc}") from exc
            if type(exc).__module__.startswith("chromadb") or "chromadb" in repr(type(exc)):
                raise StoreError(f"the vector store failed: {exc}") from exc
            raise
    return wrapper


def date_number(iso: str) -> int:
    """A date as seconds since the epoch (UTC midnight), so range filters are numeric."""
    return int(datetime.combine(date.fromisoformat(iso), datetime.min.time(), UTC).timestamp())


def chunk_hash(chunk_id: str) -> str:
    """The content-hash prefix a chunk id carries (rag.ids.chunk_id)."""
    parts = chunk_id.rsplit("::", 2)
    return parts[1] if len(parts) == 3 else ""


@dataclass(frozen=True)
class Change:
    article_id: str
    seq: float
    op: str  # write | delete
    record: tuple[ArticleInfo, float, int | None] | None = None  # a write's record, as the entry carries it


@dataclass(frozen=True)
class ArticleState:
    """What the store holds for one article: its record (None when deleted) and, when asked,
    its chunks with their vectors."""

    article_id: str
    seq: float
    info: ArticleInfo | None
    published_ts: int | None = None
    chunks: tuple[tuple[StoredChunk, Any], ...] = ()  # (chunk, vector)
    complete: bool = True  # False: the chunks do not match the record (a write is under way)


class ChunkStore:
    def __init__(self, client_factory: Callable[[], Any], stem: str, lease_s: float = 60.0,
                 lease_wait_s: float = 120.0) -> None:
        self._client_factory = client_factory
        self.stem = stem
        self.lease_s = lease_s
        self.lease_wait_s = lease_wait_s
        self._locks: dict[str, list[Any]] = {}  # article id -> [lock, users]
        self._locks_guard = threading.Lock()

    @cached_property
    def client(self) -> Any:
        return self._client_factory()

    @cached_property
    def chunks(self) -> Any:
        return self.client.get_or_create_collection(
            f"{self.stem}-chunks", metadata={"hnsw:space": "cosine"}, embedding_function=None
        )

    @cached_property
    def articles(self) -> Any:
        return self.client.get_or_create_collection(f"{self.stem}-articles", embedding_function=None)

    @cached_property
    def changes(self) -> Any:
        return self.client.get_or_create_collection(f"{self.stem}-changes", embedding_function=None)

    @cached_property
    def leases(self) -> Any:
        return self.client.get_or_create_collection(f"{self.stem}-leases", embedding_function=None)

    @cached_property
    def batch_size(self) -> int:
        return int(self.client.get_max_batch_size())

    # --- articles -------------------------------------------------------------------------

    @_mapped
    def article_infos(self, ids: Sequence[str], verify: bool = False) -> dict[str, ArticleInfo]:
        """Records by id. With `verify`, a record whose chunks are not all stored comes back with
        an empty content hash: an unchanged check must not trust it."""
        found: dict[str, ArticleInfo] = {}
        for batch in _batches(list(ids), self.batch_size):
            got = self.articles.get(ids=batch, include=["metadatas"])
            for article_id, meta in zip(got["ids"], got["metadatas"], strict=True):
                info = _info(article_id, meta)
                if info is not None:
                    found[article_id] = info
        if verify and found:
            counts = self._chunk_counts(list(found), {i: f.content_hash for i, f in found.items()})
            found = {i: f if counts.get(i, 0) == f.n_chunks else f.model_copy(update={"content_hash": ""})
                     for i, f in found.items()}
        return found

    def _chunk_counts(self, ids: list[str], hashes: dict[str, str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for batch in _batches(ids, CHUNK_PAGE_ARTICLES):
            got = self.chunks.get(where=_in("article_id", batch), include=["metadatas"])
            for chunk_id, meta in zip(got["ids"], got["metadatas"], strict=True):
                article_id = (meta or {}).get("article_id")
                if article_id in hashes and chunk_hash(chunk_id) == hashes[article_id][:12]:
                    counts[article_id] = counts.get(article_id, 0) + 1
        return counts

    @_mapped
    def get_article(self, article_id: str) -> tuple[ArticleInfo, str] | None:
        got = self.articles.get(ids=[article_id], include=["metadatas", "documents"])
        if not got["ids"]:
            return None
        info = _info(article_id, got["metadatas"][0])
        if info is None or got["documents"][0] is None:
            return None
        return info, got["documents"][0]

    @_mapped
    def list_articles(self, offset: int = 0, limit: int = 100) -> list[ArticleInfo]:
        got = self.articles.get(include=["metadatas"], offset=offset, limit=limit)
        return [i for i in (_info(a, m) for a, m in zip(got["ids"], got["metadatas"], strict=True)) if i]

    @_mapped
    def count_articles(self) -> int:
        return int(self.articles.count())

    @_mapped
    def count_chunks(self) -> int:
        return int(self.chunks.count())

    # --- writes ---------------------------------------------------------------------------

    @contextmanager
    def lease(self, article_ids: Sequence[str]) -> Iterator[None]:
        """Hold the write leases of all `article_ids` (all or none at a time, so two batches never
        wait on each other), across processes and hosts. A lease older than `lease_s` belonged to
        a writer that died and is taken over."""
        ids = sorted(set(article_ids))
        with self._local_leases(ids):  # this process's writers queue here, without polling the store
            yield from self._store_lease(ids)

    @contextmanager
    def _local_leases(self, ids: list[str]) -> Iterator[None]:
        with self._locks_guard:
            locks = [self._locks.setdefault(i, [threading.Lock(), 0]) for i in ids]
            for entry in locks:
                entry[1] += 1
        held: list[threading.Lock] = []
        try:
            for entry in locks:  # in id order: two batches never wait on each other in a cycle
                entry[0].acquire()
                held.append(entry[0])
            yield
        finally:
            for lock in held:
                lock.release()
            with self._locks_guard:
                for i, entry in zip(ids, locks, strict=True):
                    entry[1] -= 1
                    if entry[1] == 0:
                        self._locks.pop(i, None)

    def _store_lease(self, ids: list[str]) -> Iterator[None]:
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.lease_wait_s
        delay = 0.01
        while not self._try_lease(ids, token):
            if time.monotonic() > deadline:
                raise StoreBusy(f"could not get the write lease of {ids[0]!r} within {self.lease_wait_s:.0f} s; "
                                "another writer holds it")
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)
        try:
            yield
        finally:
            self._release(ids, token)

    @_mapped
    def _try_lease(self, ids: list[str], token: str) -> bool:
        now = time.time()
        meta = {"owner": token, "expires": now + self.lease_s, "host": _HOST, "pid": os.getpid()}
        held: list[str] = []
        ok = True
        for batch in _batches(ids, self.batch_size):
            self.leases.add(ids=batch, embeddings=[[1.0]] * len(batch), metadatas=[meta] * len(batch))
            got = self.leases.get(ids=batch, include=["metadatas"])
            owners = {i: (m or {}) for i, m in zip(got["ids"], got["metadatas"], strict=True)}
            for i in batch:
                m = owners.get(i)
                if m is not None and m.get("owner") == token:
                    held.append(i)
                    continue
                ok = False
                if m is not None and (float(m.get("expires", 0)) < now or _dead_here(m)):  # its writer died
                    self.leases.delete(ids=[i], where={"owner": m.get("owner", "")})
        if not ok:
            self._release(held, token)
        return ok

    @_mapped
    def _release(self, ids: list[str], token: str) -> None:
        for batch in _batches(ids, self.batch_size):
            self.leases.delete(ids=batch, where={"owner": token})

    @_mapped
    def write_articles(self, items: Sequence[tuple[Article, str, list[Chunk]]], vectors: np.ndarray) -> list[float]:
        """Write (article, content hash, chunks) items under their leases; `vectors` has one row per
        chunk, in order. Returns each article's new `seq`. The caller holds the leases."""
        article_ids = [article.id for article, _, _ in items]
        previous = self._seqs(article_ids)
        chunks = [c for _, _, cs in items for c in cs]
        self._upsert(self.chunks, [c.id for c in chunks], list(vectors), [c.text for c in chunks],
                     _chunk_metadatas(items))
        current = {c.id for c in chunks}
        for batch in _batches(article_ids, CHUNK_PAGE_ARTICLES):
            existing = self.chunks.get(where=_in("article_id", batch), include=[])["ids"]
            stale = [i for i in existing if i not in current]
            if stale:
                self.chunks.delete(ids=stale)
        seqs = [_next_seq(previous.get(i)) for i in article_ids]
        # Chroma merges an upsert's metadata into the old one: a key the new version lacks is
        # given as None, which removes it (an edit that drops the url must not keep the old one).
        article_metadatas = [
            {**_UNSET, **_article_metadata(article), "content_hash": digest, "n_chunks": len(cs), "seq": seq}
            for (article, digest, cs), seq in zip(items, seqs, strict=True)
        ]
        self._upsert(self.articles, article_ids, [[1.0]] * len(items), [a.text for a, _, _ in items],
                     article_metadatas)
        self._record_changes(article_ids, seqs, "write", article_metadatas)
        return seqs

    @_mapped
    def import_articles(self, items: Sequence[tuple[Article, str, list[Chunk]]], vectors: np.ndarray,
                        seq: float) -> None:
        """Bulk import into a store that no one else writes yet (a benchmark's prefill, a
        migration): the same records, chunks and change entries as `write_articles`, in large
        batches, without leases or the stale-chunk check. The ids must be new to the store."""
        chunks = [c for _, _, cs in items for c in cs]
        ids = [article.id for article, _, _ in items]
        self._upsert(self.chunks, [c.id for c in chunks], list(vectors), [c.text for c in chunks],
                     _chunk_metadatas(items), add=True)
        records = [{**_article_metadata(article), "content_hash": digest, "n_chunks": len(cs), "seq": seq}
                   for article, digest, cs in items]
        self._upsert(self.articles, ids, [[1.0]] * len(items), [a.text for a, _, _ in items], records, add=True)
        self._upsert(self.changes, ids, [[1.0]] * len(ids), None, [{**r, "op": "write", "record_seq": seq}
                                                                  for r in records], add=True)

    def _upsert(self, collection: Any, ids: list[str], embeddings: Any, documents: list[str] | None,
                metadatas: list[Any], add: bool = False) -> None:
        for lo in range(0, len(ids), self.batch_size):
            hi = lo + self.batch_size
            write = collection.add if add else collection.upsert
            write(ids=ids[lo:hi], embeddings=embeddings[lo:hi], metadatas=metadatas[lo:hi],
                  **({"documents": documents[lo:hi]} if documents is not None else {}))

    def _seqs(self, article_ids: list[str]) -> dict[str, float]:
        """The last change of each article, record or tombstone."""
        seqs: dict[str, float] = {}
        for batch in _batches(article_ids, self.batch_size):
            got = self.changes.get(ids=batch, include=["metadatas"])
            for i, m in zip(got["ids"], got["metadatas"], strict=True):
                seqs[i] = float((m or {}).get("seq", 0.0))
        return seqs

    def _record_changes(self, article_ids: list[str], seqs: list[float], op: str,
                        records: list[dict[str, Any]] | None = None) -> None:
        """A write's entry carries the record's metadata (the chunk ids follow from its hash and
        count), so a replica applies it with one request for the chunks."""
        # `record_seq` marks the record as this entry's own: a writer of an older version of this code
        # upserting {seq, op} over it leaves a stale record behind, with a different seq.
        metadatas = [{**_UNSET, **({**records[n], "record_seq": s} if records else {}), "seq": s, "op": op}
                     for n, s in enumerate(seqs)]
        self._upsert(self.changes, article_ids, [[1.0]] * len(article_ids), None, metadatas)

    @_mapped
    def delete_article(self, article_id: str) -> tuple[bool, float]:
        """Delete an article (the caller holds its lease). Returns whether it existed and the
        tombstone's seq."""
        existed = bool(self.articles.get(ids=[article_id], include=[])["ids"])
        seq = _next_seq(self._seqs([article_id]).get(article_id))
        self.chunks.delete(where={"article_id": article_id})
        self.articles.delete(ids=[article_id])
        self._record_changes([article_id], [seq], "delete")
        return existed, seq

    # --- the change feed and bulk reads, for replicas --------------------------------------

    @_mapped
    def changes_since(self, seq: float) -> list[Change]:
        """Every article whose last change is at or after `seq` (one request when few changed)."""
        out: list[Change] = []
        offset = 0
        while True:
            got = self.changes.get(where={"seq": {"$gte": seq}}, include=["metadatas"],
                                   limit=self.batch_size, offset=offset)
            for i, m in zip(got["ids"], got["metadatas"], strict=True):
                if m:
                    # entries written before they carried the record have none
                    info = _info(i, m) if m.get("record_seq") == m.get("seq") else None
                    record = (info, float(m.get("seq", 0.0)), m.get("published_ts")) if info else None
                    out.append(Change(i, float(m.get("seq", 0.0)), str(m.get("op", "write")), record))
            if len(got["ids"]) < self.batch_size:
                return out
            offset += len(got["ids"])

    @_mapped
    def article_pages(self, page: int = ARTICLE_PAGE) -> Iterator[list[tuple[ArticleInfo, float, int | None]]]:
        """Every record, in pages: (info, seq, published_ts)."""
        offset = 0
        while True:
            got = self.articles.get(include=["metadatas"], limit=page, offset=offset)
            yield [(info, float(m.get("seq", 0.0)), m.get("published_ts"))
                   for i, m in zip(got["ids"], got["metadatas"], strict=True)
                   if (info := _info(i, m)) is not None]
            if len(got["ids"]) < page:
                return
            offset += len(got["ids"])

    @_mapped
    def article_ids(self, page: int = ARTICLE_ID_PAGE) -> list[str]:
        """Every article id (ids only: a page of 20,000 costs the server about what 500 records do)."""
        ids: list[str] = []
        while True:
            got = self.articles.get(include=[], limit=page, offset=len(ids))["ids"]
            ids.extend(got)
            if len(got) < page:
                return ids

    @_mapped
    def states(self, article_ids: Sequence[str], with_chunks: bool = True,
               records: dict[str, tuple[ArticleInfo, float, int | None]] | None = None,
               with_vectors: bool = True) -> list[ArticleState]:
        """The current state of each article: its record and chunks (with their vectors unless
        `with_vectors` is False: then None), read together and checked against each other."""
        ids = list(article_ids)
        if records is None:
            records = {}
            for batch in _batches(ids, self.batch_size):
                got = self.articles.get(ids=batch, include=["metadatas"])
                for i, m in zip(got["ids"], got["metadatas"], strict=True):
                    info = _info(i, m)
                    if info is not None:
                        records[i] = (info, float(m.get("seq", 0.0)), m.get("published_ts"))
        tomb = self._seqs([i for i in ids if i not in records]) if len(records) < len(ids) else {}
        by_article: dict[str, list[tuple[StoredChunk, Any]]] = {}
        if with_chunks and records:
            # The record names its chunks (id, content hash, count): fetched by id, a primary-key
            # lookup, where a filter on article_id would go through the metadata index.
            wanted = [make_chunk_id(i, records[i][0].content_hash, n)
                      for i in ids if i in records for n in range(records[i][0].n_chunks)]
            include = ["documents", "metadatas", "embeddings"] if with_vectors else ["documents", "metadatas"]
            for batch in _batches(wanted, self.batch_size):
                got = self.chunks.get(ids=batch, include=include)
                vectors = got["embeddings"] if with_vectors else [None] * len(got["ids"])
                for chunk_id, text, meta, vector in zip(got["ids"], got["documents"], got["metadatas"],
                                                        vectors, strict=True):
                    article_id = (meta or {}).get("article_id")
                    if article_id not in records:
                        continue
                    chunk = stored_chunk(chunk_id, text, meta, records[article_id][0])
                    if chunk is not None:
                        by_article.setdefault(article_id, []).append((chunk, vector))
        out = []
        for i in ids:
            if i not in records:
                out.append(ArticleState(i, tomb.get(i, 0.0), None))
                continue
            info, seq, ts = records[i]
            chunks = sorted(by_article.get(i, []), key=lambda cv: cv[0].index)
            out.append(ArticleState(i, seq, info, ts, tuple(chunks),
                                    complete=not with_chunks or len(chunks) == info.n_chunks))
        return out

    # --- retrieval ------------------------------------------------------------------------

    @_mapped
    def query(self, vector: np.ndarray, k: int, filters: Filters = Filters(),
              infos: Callable[[set[str]], dict[str, ArticleInfo]] | None = None) -> list[RetrievedChunk]:
        """The k nearest chunks; `infos` supplies article records (a replica's local copy), the
        store is asked for those it lacks."""
        try:
            got = self.chunks.query(query_embeddings=[vector], n_results=k, where=build_where(filters),
                                    include=["documents", "metadatas", "distances"])
        except Exception as exc:
            # A `chroma run` server answers a query on a collection whose first vectors are still
            # being written with "Nothing found on disk" (seen with concurrent ingests): nothing to find yet.
            if "Nothing found on disk" in str(exc):
                return []
            raise
        rows = list(zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True))
        articles = self._infos({(m or {}).get("article_id", "") for _, _, m, _ in rows}, infos)
        results = []
        for chunk_id, text, meta, distance in rows:
            chunk = stored_chunk(chunk_id, text, meta, articles.get((meta or {}).get("article_id", "")))
            if chunk is not None:
                results.append(RetrievedChunk(**chunk.model_dump(), score=1.0 - float(distance)))
        return results

    def _infos(self, ids: set[str], infos: Callable[[set[str]], dict[str, ArticleInfo]] | None
               ) -> dict[str, ArticleInfo]:
        ids.discard("")
        found = infos(ids) if infos is not None and ids else {}
        missing = ids - found.keys()
        if missing:
            found |= self.article_infos(sorted(missing))
        return found

    @_mapped
    def article_chunks(self, article_id: str) -> list[StoredChunk]:
        got = self.chunks.get(where={"article_id": article_id}, include=["documents", "metadatas"])
        info = self.article_infos([article_id]).get(article_id)
        found = [stored_chunk(i, t, m, info) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"],
                                                                   strict=True)]
        return sorted((c for c in found if c is not None), key=lambda c: c.index)

    @_mapped
    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id (ids no longer stored are left out)."""
        import numpy as np

        found: dict[str, np.ndarray] = {}
        for batch in _batches(list(chunk_ids), self.batch_size):
            got = self.chunks.get(ids=batch, include=["embeddings"])
            found.update(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32), strict=True))
        return found

    @_mapped
    def all_chunk_ids(self) -> set[str]:
        """Every chunk id, paged by article (checks and tests; replicas never list the store)."""
        ids: set[str] = set()
        for page in self.article_pages():
            for batch in _batches([info.id for info, _, _ in page], CHUNK_PAGE_ARTICLES):
                ids.update(self.chunks.get(where=_in("article_id", batch), include=[])["ids"])
        return ids

    @_mapped
    def chunk_ids(self, article_id: str) -> list[str]:
        return list(self.chunks.get(where={"article_id": article_id}, include=[])["ids"])

    @_mapped
    def get_chunks(self, ids: Sequence[str]) -> list[StoredChunk]:
        """Chunks by id, in the order asked (ids no longer stored are left out)."""
        got = self.chunks.get(ids=list(ids), include=["documents", "metadatas"])
        articles = self._infos({(m or {}).get("article_id", "") for m in got["metadatas"]}, None)
        by_id = {}
        for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            chunk = stored_chunk(i, t, m, articles.get((m or {}).get("article_id", "")))
            if chunk is not None:
                by_id[i] = chunk
        return [by_id[i] for i in ids if i in by_id]


def stored_chunk(chunk_id: str, text: str | None, meta: dict[str, Any] | None,
                 info: ArticleInfo | None) -> StoredChunk | None:
    """The one mapping from stored metadata to a chunk. None when the row is incomplete: a
    concurrent delete can leave a query with a row whose metadata or article is already gone."""
    if not meta or text is None or info is None or "article_id" not in meta:
        return None
    return StoredChunk(chunk_id=chunk_id, article_id=meta["article_id"], index=meta["index"], start=meta["start"],
                       end=meta["end"], text=text, title=info.title, published_at=info.published_at,
                       source=info.source, starts_paragraph=meta.get("para_start", True), language=info.language)


def build_where(filters: Filters) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if filters.since:
        clauses.append({"published_ts": {"$gte": date_number(filters.since)}})
    if filters.until:
        clauses.append({"published_ts": {"$lte": date_number(filters.until)}})
    if filters.source:
        clauses.append({"source": filters.source})
    if filters.language:
        clauses.append({"language": filters.language})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _in(key: str, values: list[str]) -> dict[str, Any]:
    return {key: values[0]} if len(values) == 1 else {key: {"$in": values}}


_HOST = socket.gethostname()
# The record's keys, unset: merged under a new record (or a tombstone) so no old value survives.
_UNSET: dict[str, Any] = dict.fromkeys(("title", "url", "source", "language", "published_at", "published_ts",
                                        "content_hash",
                                        "n_chunks", "record_seq"))


def _dead_here(lease: dict[str, Any]) -> bool:
    """A lease held by a process of this host that no longer runs (killed mid-write)."""
    if lease.get("host") != _HOST or not isinstance(lease.get("pid"), int):
        return False
    try:
        os.kill(lease["pid"], 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _next_seq(previous: float | None) -> float:
    """Now, but always past the article's last change, so its changes are ordered even when the
    hosts' clocks disagree."""
    now = time.time()
    return now if previous is None or now > previous else previous + 0.001


def _chunk_metadatas(items: Sequence[tuple[Article, str, list[Chunk]]]) -> list[dict[str, Any]]:
    metadatas: list[dict[str, Any]] = []
    for article, _, article_chunks in items:
        keys = _filter_keys(article)
        metadatas.extend({**keys, "article_id": article.id, "index": c.index, "start": c.start, "end": c.end,
                          "para_start": c.starts_paragraph} for c in article_chunks)
    return metadatas


def _filter_keys(article: Article) -> dict[str, Any]:
    """The article fields a chunk carries: only what a search filters on."""
    keys: dict[str, Any] = {}
    if article.source:
        keys["source"] = article.source
    if article.published_at:
        keys["published_ts"] = date_number(article.published_at)
    if article.language:
        keys["language"] = article.language
    return keys


def _article_metadata(article: Article) -> dict[str, Any]:
    meta: dict[str, Any] = {"title": article.title, **_filter_keys(article)}
    if article.url:
        meta["url"] = article.url
    if article.published_at:
        meta["published_at"] = article.published_at
    return meta


def _info(article_id: str, meta: dict[str, Any] | None) -> ArticleInfo | None:
    if not meta or "content_hash" not in meta:
        return None
    return ArticleInfo(
        id=article_id, title=meta.get("title", ""), url=meta.get("url"), source=meta.get("source"),
        published_at=meta.get("published_at"), content_hash=meta["content_hash"],
        n_chunks=meta.get("n_chunks", 0), language=meta.get("language"),
    )


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for lo in range(0, len(items), size):
        yield items[lo : lo + size]
