"""BM25 over the chunks with SQLite FTS5 (stdlib, persistent, incremental, bm25() built in).

The index is a cache of the Chroma chunk collection, never a second source of truth. Every write
to Chroma ends by changing a generation token in the store; before a search the index compares
that token with the one it last synced to and, when they differ, diffs chunk ids with Chroma and
copies or drops the difference. So it heals after a crash between the two writes, and with
`RAG_CHROMA_URL` each host's index catches up with what other workers or hosts ingested. Several
processes on one host share the file (WAL mode); SQLite serialises their writes.

Text is indexed as the same light stems the rest of the project uses (rag.terms.stem), so a
question's terms can be looked up in the vocabulary: FTS5 computes BM25 for every row a term
matches (about 2 µs a row), so on an index of more than 2,000 chunks the terms found in more
than 2% of them are left out of the query; a question made only of such terms is answered by
the dense side alone. Each chunk's vector is kept too,
so lexical hits get their cosine without a round trip to Chroma.
"""

from __future__ import annotations

import sqlite3
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.terms import STOP_WORDS, stem, words
from rag.types import RetrievedChunk

SCHEMA_VERSION = 2  # part of the file name: a new layout starts a new file (filled by the first sync)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, v BLOB NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks USING fts5(
    terms, title_terms,
    text UNINDEXED, title UNINDEXED, chunk_id UNINDEXED, article_id UNINDEXED, idx UNINDEXED,
    start UNINDEXED, end_ UNINDEXED, published_at UNINDEXED, published_ts UNINDEXED, source UNINDEXED,
    para_start UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS vocab USING fts5vocab(chunks, 'row');
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_WEIGHTS = "1.0, 0.3"  # bm25() column weights: body, then title (repeated on every chunk of an article)
_MAX_TERMS = 32
PRUNE_ABOVE_ROWS = 2000  # below this, every term is cheap
PRUNE_SHARE = 0.02  # on larger indexes, terms in more than this share of chunks are left out
_BUSY_TIMEOUT_S = 30  # how long a write waits for another process's lock on the shared file


@dataclass(frozen=True)
class LexicalRow:
    chunk: RetrievedChunk
    published_ts: int | None
    vector: np.ndarray  # kept beside the text: cosines for lexical hits without a Chroma round trip


class LexicalIndex:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._rows: int | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=_BUSY_TIMEOUT_S,
                                   isolation_level=None)
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
            return {r[0] for r in self.conn.execute("SELECT chunk_id FROM rows")}

    def row_count(self) -> int:
        if self._rows is None:
            with self._lock:
                self._rows = int(self.conn.execute("SELECT count(*) FROM rows").fetchone()[0])
        return self._rows

    # --- writes ---------------------------------------------------------------------------

    def replace(self, rows: Sequence[LexicalRow], drop_ids: Iterable[str] = ()) -> None:
        """Drop `drop_ids`, then (re)write `rows`, in one transaction."""
        drop = list(drop_ids) + [r.chunk.chunk_id for r in rows]
        with self._transaction():
            self._drop(drop)
            for r in rows:
                c = r.chunk
                cursor = self.conn.execute("INSERT INTO rows (chunk_id, v) VALUES (?, ?)",
                                           (c.chunk_id, np.asarray(r.vector, dtype=np.float32).tobytes()))
                self.conn.execute(
                    "INSERT INTO chunks (rowid, terms, title_terms, text, title, chunk_id, article_id, idx, start,"
                    " end_, published_at, published_ts, source, para_start) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (cursor.lastrowid, stems_of(c.text), stems_of(c.title), c.text, c.title, c.chunk_id,
                     c.article_id, c.index, c.start, c.end, c.published_at, r.published_ts, c.source,
                     int(c.starts_paragraph)))

    def delete_article(self, article_id: str) -> None:
        with self._transaction():
            self._drop([r[0] for r in self.conn.execute("SELECT chunk_id FROM chunks WHERE article_id = ?",
                                                        (article_id,))])

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One writer at a time (this process's lock, then SQLite's across processes), all or nothing."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            finally:
                self._rows = None

    def _drop(self, chunk_ids: Sequence[str]) -> None:
        for rowids in self._rowids(chunk_ids):
            marks = ",".join("?" * len(rowids))
            self.conn.execute(f"DELETE FROM chunks WHERE rowid IN ({marks})", rowids)
            self.conn.execute(f"DELETE FROM rows WHERE id IN ({marks})", rowids)

    def _rowids(self, chunk_ids: Sequence[str]) -> Iterable[list[int]]:
        for i in range(0, len(chunk_ids), 500):
            batch = list(chunk_ids[i: i + 500])
            found = [r[0] for r in self.conn.execute(
                f"SELECT id FROM rows WHERE chunk_id IN ({','.join('?' * len(batch))})", batch)]
            if found:
                yield found

    # --- reads ----------------------------------------------------------------------------

    def search(self, match: str, k: int, since_ts: int | None = None, until_ts: int | None = None,
               source: str | None = None) -> list[RetrievedChunk]:
        """Best first for an FTS5 query from `match()`; `score` is BM25 (higher is better)."""
        if not match:
            return []
        sql = ["SELECT chunk_id, article_id, idx, start, end_, text, title, published_at, source, para_start, "
               f"-bm25(chunks, {_WEIGHTS}) AS score FROM chunks WHERE chunks MATCH ?"]
        args: list[object] = [match]
        for clause, value in (("published_ts >= ?", since_ts), ("published_ts <= ?", until_ts),
                              ("source = ?", source)):
            if value is not None:
                sql.append(f"AND {clause}")
                args.append(value)
        sql.append("ORDER BY score DESC LIMIT ?")
        args.append(k)
        with self._lock:
            rows = self.conn.execute(" ".join(sql), args).fetchall()
        return [RetrievedChunk(chunk_id=r[0], article_id=r[1], index=r[2], start=r[3], end=r[4], text=r[5],
                               title=r[6], published_at=r[7], source=r[8], starts_paragraph=bool(r[9]),
                               score=float(r[10])) for r in rows]

    def scores(self, match: str, ids: Sequence[str]) -> dict[str, float]:
        """BM25 scores of the given chunks for an FTS5 query (those matching no term are left out)."""
        if not match or not ids:
            return {}
        found: dict[str, float] = {}
        with self._lock:
            for rowids in self._rowids(ids):
                found.update(self.conn.execute(
                    f"SELECT chunk_id, -bm25(chunks, {_WEIGHTS}) FROM chunks WHERE chunks MATCH ? "
                    f"AND rowid IN ({','.join('?' * len(rowids))})", [match, *rowids]).fetchall())
        return found

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(ids), 500):
                batch = list(ids[i: i + 500])
                for chunk_id, blob in self.conn.execute(
                        f"SELECT chunk_id, v FROM rows WHERE chunk_id IN ({','.join('?' * len(batch))})", batch):
                    found[chunk_id] = np.frombuffer(blob, dtype=np.float32)
        return found

    def match(self, query: str) -> str:
        """The FTS5 query for a question: its stems, each quoted (no user text is read as FTS syntax),
        OR-ed, without the very common ones when the index is large."""
        terms = query_stems(query)
        if not terms:
            return ""
        n = self.row_count()
        if n > PRUNE_ABOVE_ROWS:
            with self._lock:
                df = dict(self.conn.execute(
                    f"SELECT term, doc FROM vocab WHERE term IN ({','.join('?' * len(terms))})", terms).fetchall())
            # BM25 over terms this common says little and costs ~2 µs per matching row; a question
            # made only of them is left to the dense side.
            terms = [t for t in terms if 0 < df.get(t, 0) <= PRUNE_SHARE * n]
        return " OR ".join(f'"{t}"' for t in terms)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def stems_of(text: str) -> str:
    return " ".join(t for t in (_token(w) for w in words(text)) if t)


def _token(word: str) -> str:
    """A stem as FTS5's unicode61 tokenizer will store it: no apostrophes, no diacritics."""
    plain = unicodedata.normalize("NFKD", stem(word))
    return "".join(ch for ch in plain if ch.isalnum())


def query_stems(text: str) -> list[str]:
    terms: list[str] = []
    for w in words(text):
        if w.lower() in STOP_WORDS or (len(w) < 2 and not w.isdigit()):
            continue
        s = _token(w)
        if s and s not in terms:
            terms.append(s)
    return terms[:_MAX_TERMS]
