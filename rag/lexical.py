"""BM25 over the chunks with SQLite FTS5 (stdlib, persistent, incremental, bm25() built in).

The index is a cache of the Chroma chunk collection, never a second source of truth. Every write
to Chroma ends by changing a generation token in the store; before a search the index compares
that token with the one it last synced to and, when they differ, diffs chunk ids with Chroma and
copies or drops the difference. So it heals after a crash between the two writes, and with
`RAG_CHROMA_URL` each host's index catches up with what other workers or hosts ingested. Several
processes on one host share the file (WAL mode); SQLite serialises their writes.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.terms import STOP_WORDS, words
from rag.types import RetrievedChunk

_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS chunks USING fts5(
    text, title,
    chunk_id UNINDEXED, article_id UNINDEXED, idx UNINDEXED, start UNINDEXED, end_ UNINDEXED,
    published_at UNINDEXED, published_ts UNINDEXED, source UNINDEXED, para_start UNINDEXED,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# bm25() column weights: body text, then the title (repeated on every chunk of an article).
_WEIGHTS = "1.0, 0.3"
_MAX_TERMS = 32


@dataclass(frozen=True)
class LexicalRow:
    chunk: RetrievedChunk
    published_ts: int | None


class LexicalIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    # --- state ----------------------------------------------------------------------------

    def generation(self) -> str | None:
        with self._lock:
            row = self.conn.execute("SELECT value FROM state WHERE key = 'generation'").fetchone()
        return row[0] if row else None

    def set_generation(self, value: str) -> None:
        with self._lock:
            self.conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES ('generation', ?)", (value,))

    def ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self.conn.execute("SELECT chunk_id FROM chunks")}

    # --- writes ---------------------------------------------------------------------------

    def replace(self, rows: Sequence[LexicalRow], drop_ids: Iterable[str] = ()) -> None:
        """Drop `drop_ids`, then (re)write `rows`, in one transaction."""
        drop = list(drop_ids) + [r.chunk.chunk_id for r in rows]
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for i in range(0, len(drop), 500):
                    batch = drop[i: i + 500]
                    self.conn.execute(f"DELETE FROM chunks WHERE chunk_id IN ({','.join('?' * len(batch))})", batch)
                self.conn.executemany(
                    "INSERT INTO chunks (text, title, chunk_id, article_id, idx, start, end_, published_at, "
                    "published_ts, source, para_start) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    [(r.chunk.text, r.chunk.title, r.chunk.chunk_id, r.chunk.article_id, r.chunk.index, r.chunk.start,
                      r.chunk.end, r.chunk.published_at, r.published_ts, r.chunk.source, int(r.chunk.starts_paragraph))
                     for r in rows])
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    # --- search ---------------------------------------------------------------------------

    def search(self, query: str, k: int, since_ts: int | None = None, until_ts: int | None = None,
               source: str | None = None) -> list[RetrievedChunk]:
        """Best first; `score` is BM25 (higher is better)."""
        match = fts_query(query)
        if not match:
            return []
        sql = [f"SELECT chunk_id, article_id, idx, start, end_, text, title, published_at, source, para_start, "
               f"-bm25(chunks, {_WEIGHTS}) AS score FROM chunks WHERE chunks MATCH ?"]
        args: list[object] = [match]
        if since_ts is not None:
            sql.append("AND published_ts >= ?")
            args.append(since_ts)
        if until_ts is not None:
            sql.append("AND published_ts <= ?")
            args.append(until_ts)
        if source is not None:
            sql.append("AND source = ?")
            args.append(source)
        sql.append("ORDER BY score DESC LIMIT ?")
        args.append(k)
        with self._lock:
            rows = self.conn.execute(" ".join(sql), args).fetchall()
        return [RetrievedChunk(chunk_id=r[0], article_id=r[1], index=r[2], start=r[3], end=r[4], text=r[5],
                               title=r[6], published_at=r[7], source=r[8], starts_paragraph=bool(r[9]),
                               score=float(r[10])) for r in rows]

    def scores(self, query: str, ids: Sequence[str]) -> dict[str, float]:
        """BM25 scores of the given chunks (those matching no query term are left out)."""
        match = fts_query(query)
        if not match or not ids:
            return {}
        found: dict[str, float] = {}
        with self._lock:
            for i in range(0, len(ids), 500):
                batch = list(ids[i: i + 500])
                found.update(self.conn.execute(
                    f"SELECT chunk_id, -bm25(chunks, {_WEIGHTS}) FROM chunks WHERE chunks MATCH ? "
                    f"AND chunk_id IN ({','.join('?' * len(batch))})", [match, *batch]).fetchall())
        return found

    def delete_article(self, article_id: str) -> None:
        with self._lock:
            self.conn.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def fts_query(text: str) -> str:
    """Question words as an OR of quoted FTS5 strings: no user text is ever read as FTS syntax."""
    terms = []
    for w in words(text):
        lowered = w.lower()
        if lowered in STOP_WORDS or (len(w) < 2 and not w.isdigit()):
            continue
        clean = re.sub(r"[\"']", "", lowered)
        if clean and clean not in terms:
            terms.append(clean)
    return " OR ".join(f'"{t}"' for t in terms[:_MAX_TERMS])
