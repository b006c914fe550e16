"""ChunkStore: chunks and article records in Chroma, embedded or behind a `chroma run` server.

Two collections share one name stem that encodes the embedder and the chunking settings, so
changing either never mixes vectors: `<stem>-chunks` (one vector per chunk, cosine space) and
`<stem>-articles` (one record per article: its text, metadata and content hash).

A write is ordered so that an interrupted ingest heals when run again: the new chunks are
upserted first (their ids carry the content hash), then the other versions' chunks are
deleted, and the article record with its hash is written last, as the commit mark.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from rag import chunking
from rag.errors import ConfigError, StoreUnavailable
from rag.types import Article, ArticleInfo, Chunk, RetrievedChunk

if TYPE_CHECKING:
    import numpy as np

# chromadb's own types make every result field Optional and metadata a read-only Mapping; this
# module reads results it asked for by shape, so clients and collections are typed loosely.
ClientAPI = Any
Collection = Any


def collection_stem(prefix: str, embedder: str, encoding: str, chunk_tokens: int, overlap: int,
                    min_tokens: int) -> str:
    key = f"{embedder}|{encoding}|{chunk_tokens}|{overlap}|{min_tokens}|v{chunking.CHUNKER_VERSION}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return f"{prefix}-{embedder}-t{chunk_tokens}o{overlap}-{digest}"


def open_client(data_dir: Path, chroma_url: str | None) -> ClientAPI:
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


def date_number(iso: str) -> int:
    """A date as seconds since the epoch (UTC midnight), so range filters are numeric."""
    return int(datetime.combine(date.fromisoformat(iso), datetime.min.time(), UTC).timestamp())


class ChunkStore:
    def __init__(self, client_factory: Callable[[], ClientAPI], stem: str) -> None:
        self._client_factory = client_factory
        self.stem = stem

    @cached_property
    def client(self) -> ClientAPI:
        return self._client_factory()

    @cached_property
    def chunks(self) -> Collection:
        return self.client.get_or_create_collection(
            f"{self.stem}-chunks", metadata={"hnsw:space": "cosine"}, embedding_function=None
        )

    @cached_property
    def articles(self) -> Collection:
        return self.client.get_or_create_collection(
            f"{self.stem}-articles", embedding_function=None
        )

    @cached_property
    def batch_size(self) -> int:
        return int(self.client.get_max_batch_size())

    # --- articles -------------------------------------------------------------------------

    def article_infos(self, ids: Sequence[str]) -> dict[str, ArticleInfo]:
        found: dict[str, ArticleInfo] = {}
        for batch in _batches(list(ids), self.batch_size):
            got = self.articles.get(ids=batch, include=["metadatas"])
            for article_id, meta in zip(got["ids"], got["metadatas"], strict=True):
                found[article_id] = _info(article_id, meta)
        return found

    def get_article(self, article_id: str) -> tuple[ArticleInfo, str] | None:
        got = self.articles.get(ids=[article_id], include=["metadatas", "documents"])
        if not got["ids"]:
            return None
        return _info(article_id, got["metadatas"][0]), got["documents"][0]

    def list_articles(self, offset: int = 0, limit: int = 100) -> list[ArticleInfo]:
        got = self.articles.get(include=["metadatas"], offset=offset, limit=limit)
        return [_info(i, m) for i, m in zip(got["ids"], got["metadatas"], strict=True)]

    def count_articles(self) -> int:
        return int(self.articles.count())

    def count_chunks(self) -> int:
        return int(self.chunks.count())

    def write_articles(self, items: Sequence[tuple[Article, str, list[Chunk]]], vectors: np.ndarray) -> list[str]:
        """Write (article, content hash, chunks) items; `vectors` has one row per chunk, in order.
        Returns the ids of the chunks of older versions it deleted.

        Three steps for the whole group, in crash-safe order (see the module docstring), then a
        new generation token tells lexical indexes to catch up."""
        chunks = [c for _, _, cs in items for c in cs]
        chunk_metadatas: list[dict[str, Any]] = []
        article_metadatas: list[dict[str, Any]] = []
        for article, digest, article_chunks in items:
            base = {**_article_metadata(article), "content_hash": digest}
            article_metadatas.append({**base, "n_chunks": len(article_chunks)})
            chunk_metadatas.extend(
                {**base, "article_id": article.id, "index": c.index, "start": c.start, "end": c.end,
                 "para_start": c.starts_paragraph}
                for c in article_chunks
            )
        self._upsert(self.chunks, [c.id for c in chunks], list(vectors), [c.text for c in chunks],
                     chunk_metadatas)
        article_ids = [article.id for article, _, _ in items]
        current = {c.id for c in chunks}
        removed: list[str] = []
        for batch in _batches(article_ids, self.batch_size):
            existing = self.chunks.get(where={"article_id": {"$in": batch}}, include=[])["ids"]
            stale = [i for i in existing if i not in current]
            if stale:
                self.chunks.delete(ids=stale)
                removed += stale
        self._upsert(self.articles, article_ids, [[1.0]] * len(items), [a.text for a, _, _ in items],
                     article_metadatas)
        self.bump_generation()
        return removed

    def _upsert(self, collection: Collection, ids: list[str], embeddings: Any, documents: list[str],
                metadatas: list[dict[str, Any]]) -> None:
        for lo in range(0, len(ids), self.batch_size):
            hi = lo + self.batch_size
            collection.upsert(ids=ids[lo:hi], embeddings=embeddings[lo:hi], documents=documents[lo:hi],
                              metadatas=metadatas[lo:hi])

    def delete_article(self, article_id: str) -> bool:
        existed = bool(self.articles.get(ids=[article_id], include=[])["ids"])
        self.chunks.delete(where={"article_id": article_id})
        self.articles.delete(ids=[article_id])
        self.bump_generation()
        return existed

    # --- change tracking for caches (the lexical index) -------------------------------------

    def generation(self) -> str:
        """A token that changes with every write, read fresh from the store (other processes write too)."""
        return str((self.client.get_collection(self.articles.name).metadata or {}).get("generation", ""))

    def bump_generation(self) -> str:
        token = uuid.uuid4().hex
        self.articles.modify(metadata={"generation": token})
        return token

    def all_chunk_ids(self) -> set[str]:
        ids: set[str] = set()
        offset = 0
        while True:
            got = self.chunks.get(include=[], limit=self.batch_size, offset=offset)["ids"]
            ids.update(got)
            if len(got) < self.batch_size:
                return ids
            offset += len(got)

    def chunks_for_index(self, ids: Sequence[str]) -> list[tuple[RetrievedChunk, int | None, Any]]:
        """(chunk, published_ts, vector) for the lexical index."""
        out: list[tuple[RetrievedChunk, int | None, Any]] = []
        for batch in _batches(list(ids), min(self.batch_size, 1000)):
            got = self.chunks.get(ids=batch, include=["documents", "metadatas", "embeddings"])
            out += [(c, m.get("published_ts"), v)
                    for c, m, v in zip(_chunks(got), got["metadatas"], got["embeddings"], strict=True)]
        return out

    # --- retrieval ------------------------------------------------------------------------

    def query(self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None) -> list[RetrievedChunk]:
        try:
            got = self.chunks.query(query_embeddings=[vector], n_results=k, where=where or None,
                                    include=["documents", "metadatas", "distances"])
        except Exception as exc:
            # A `chroma run` server answers a query on a collection whose first vectors are still
            # being written with "Nothing found on disk" (seen with concurrent ingests): nothing to find yet.
            if "Nothing found on disk" in str(exc):
                return []
            raise
        results = []
        for chunk_id, text, meta, distance in zip(
            got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True
        ):
            results.append(RetrievedChunk(
                chunk_id=chunk_id, article_id=meta["article_id"], index=meta["index"],
                start=meta["start"], end=meta["end"], text=text, title=meta["title"],
                published_at=meta.get("published_at"), source=meta.get("source"),
                score=1.0 - float(distance), starts_paragraph=meta.get("para_start", True),
            ))
        return results

    def article_chunks(self, article_id: str) -> list[RetrievedChunk]:
        got = self.chunks.get(where={"article_id": article_id}, include=["documents", "metadatas"])
        return sorted(_chunks(got), key=lambda c: c.index)

    def get_chunks(self, ids: Sequence[str]) -> list[RetrievedChunk]:
        """Chunks by id, in the order asked (ids no longer stored are left out)."""
        got = self.chunks.get(ids=list(ids), include=["documents", "metadatas"])
        by_id = {c.chunk_id: c for c in _chunks(got)}
        return [by_id[i] for i in ids if i in by_id]


def _chunks(got: dict[str, Any]) -> list[RetrievedChunk]:
    return [
        RetrievedChunk(chunk_id=i, article_id=m["article_id"], index=m["index"], start=m["start"], end=m["end"],
                       text=t, title=m["title"], published_at=m.get("published_at"), source=m.get("source"),
                       score=0.0, starts_paragraph=m.get("para_start", True))
        for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    ]


def build_where(since: str | None = None, until: str | None = None, source: str | None = None) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    if since:
        clauses.append({"published_ts": {"$gte": date_number(since)}})
    if until:
        clauses.append({"published_ts": {"$lte": date_number(until)}})
    if source:
        clauses.append({"source": source})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _article_metadata(article: Article) -> dict[str, Any]:
    meta: dict[str, Any] = {"title": article.title}
    if article.url:
        meta["url"] = article.url
    if article.source:
        meta["source"] = article.source
    if article.published_at:
        meta["published_at"] = article.published_at
        meta["published_ts"] = date_number(article.published_at)
    return meta


def _info(article_id: str, meta: dict[str, Any]) -> ArticleInfo:
    return ArticleInfo(
        id=article_id, title=meta["title"], url=meta.get("url"), source=meta.get("source"),
        published_at=meta.get("published_at"), content_hash=meta["content_hash"],
        n_chunks=meta["n_chunks"],
    )


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for lo in range(0, len(items), size):
        yield items[lo : lo + size]
