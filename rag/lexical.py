"""BM25 over the chunks with SQLite FTS5 (stdlib, persistent, incremental, bm25() built in).

The index is a cache of the Chroma collections, never a second source of truth: rag/index.py
fills it from the store's change feed (or a bulk load for a new replica) and applies its own
process's writes directly. Several processes on one host share the file (WAL mode); SQLite
serialises their writes, and per-article `seq`s make every application idempotent.

Text is indexed as the same light stems the rest of the project uses (rag.terms.stem), so a
question's terms can be looked up in the vocabulary; a Russian article's Cyrillic words as their
Snowball stems, with its capitalised words (names) also in Latin letters (rag/language.py, issue
28), and a question's Cyrillic words are looked up both ways. FTS5 FTS5 computes BM25 for every row a term
matches (about 2 µs a row), so on an index of more than 2,000 chunks the terms found in more
than 2% of them are left out of the query; a question made only of such terms is answered by
the dense side alone. Each chunk's vector is kept too, so lexical hits get their cosine without a
round trip to Chroma; a new replica's load leaves the vectors out (NULL) and fills them in after it
is ready (rag/index.py), and until then the retriever asks Chroma for the few it lacks.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.language import StemItem, fold, has_cyrillic, index_terms, snowball_stem, stems_language
from rag.terms import STOP_WORDS, fts_token, words
from rag.types import ArticleInfo, RetrievedChunk

if TYPE_CHECKING:
    from rag.store import ArticleState

SCHEMA_VERSION = 5  # part of the file name: a new layout starts a new file (filled by its first load)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL, article_id TEXT NOT NULL,
                                 v BLOB);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks USING fts5(
    terms, title_terms,
    text UNINDEXED, chunk_id UNINDEXED, article_id UNINDEXED, idx UNINDEXED,
    start UNINDEXED, end_ UNINDEXED, published_ts UNINDEXED, para_start UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS vocab USING fts5vocab(chunks, 'row');
CREATE TABLE IF NOT EXISTS articles (id TEXT PRIMARY KEY, seq REAL NOT NULL, deleted INTEGER NOT NULL,
    title TEXT, url TEXT, source TEXT, published_at TEXT, content_hash TEXT, n_chunks INTEGER, language TEXT);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Built after a bulk load (a fresh index loads faster without them), and by every open.
_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS rows_chunk ON rows (chunk_id);
CREATE INDEX IF NOT EXISTS rows_article ON rows (article_id);
"""
_WEIGHTS = "1.0, 0.3"  # bm25() column weights: body, then title (repeated on every chunk of an article)
_MAX_TERMS = 32
PRUNE_ABOVE_ROWS = 2000  # below this, every term is cheap
PRUNE_SHARE = 0.02  # on larger indexes, terms in more than this share of chunks are left out
_BULK_CACHE_KB = 65536  # SQLite's page cache during a bulk load (the default is 2 MB)
_BUSY_TIMEOUT_S = 60  # how long a write waits for another process's lock on the shared file


@dataclass
class LoadPage:
    """One page of a bulk load as rows ready to insert: `load_page` makes it, `bulk_load` writes it."""

    records: list[tuple[object, ...]]
    rows: list[tuple[object, ...]]
    texts: list[tuple[object, ...]]
    without_vectors: bool


def load_texts(states: Sequence[ArticleState]) -> list[StemItem]:
    """The chunk texts `load_page` indexes, in its order (for stemming them elsewhere), each with
    its article's language when that language has a stemmer of its own (`index_terms`)."""
    return [(chunk.text, lang) if (lang := _stemmed_language(state)) else chunk.text
            for state in _loadable(states) for chunk, _ in state.chunks]


def _stemmed_language(state: ArticleState) -> str | None:
    language = state.info.language if state.info else None
    return language if stems_language(language) else None


def load_page(states: Sequence[ArticleState], first_rowid: int, stems: Sequence[str] | None = None) -> LoadPage:
    """The rows of complete articles' states, numbered from `first_rowid`. `stems`: the stems of
    `load_texts(states)`, made elsewhere; without them the texts are stemmed here."""
    page = LoadPage([], [], [], False)
    n = first_rowid - 1
    stemmed = iter(stems) if stems is not None else None
    for state in _loadable(states):
        info = state.info
        assert info is not None
        page.records.append((info.id, state.seq, info.title, info.url, info.source, info.published_at,
                             info.content_hash, info.n_chunks, info.language))
        language = _stemmed_language(state)
        title_terms = index_terms((info.title, language) if language else info.title)
        for chunk, vector in state.chunks:
            n += 1
            page.without_vectors = page.without_vectors or vector is None
            page.rows.append((n, chunk.chunk_id, chunk.article_id, _blob(vector)))
            terms = next(stemmed) if stemmed is not None else \
                index_terms((chunk.text, language) if language else chunk.text)
            page.texts.append((n, terms, title_terms, chunk.text, chunk.chunk_id, chunk.article_id,
                               chunk.index, chunk.start, chunk.end, state.published_ts, int(chunk.starts_paragraph)))
    return page


def _loadable(states: Sequence[ArticleState]) -> Iterator[ArticleState]:
    return (s for s in states if s.complete and s.info is not None)


class LexicalIndex:
    """The BM25 side plus a local copy of the article records (title, date, source), so a search
    never asks the store for them. Each article carries the `seq` of the change it reflects:
    a change older than what is held is never applied, so changes apply in any order, twice, or
    from several processes sharing the file, and the result is the same."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._rows: int | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            if conn.execute("SELECT value FROM state WHERE key = 'loaded'").fetchone():
                conn.executescript(_INDEXES)
            self._conn = conn
        return self._conn

    # --- state ----------------------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        with self._lock:
            row = self.conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_state(self, key: str, value: str | None) -> None:
        """Set a state value (None: remove it)."""
        with self._lock:
            if value is None:
                self.conn.execute("DELETE FROM state WHERE key = ?", (key,))
            else:
                self.conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))

    def loaded(self) -> bool:
        return self.get_state("loaded") is not None

    def ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self.conn.execute("SELECT chunk_id FROM rows")}

    def article_rows(self, article_id: str) -> int:
        with self._lock:
            return int(self.conn.execute("SELECT count(*) FROM rows WHERE article_id = ?", (article_id,)).fetchone()[0])

    def row_count(self) -> int:
        if self._rows is None:
            with self._lock:
                self._rows = int(self.conn.execute("SELECT count(*) FROM rows").fetchone()[0])
        return self._rows

    def seqs(self, ids: Sequence[str]) -> dict[str, float]:
        """The seq each article (or tombstone) is held at."""
        found: dict[str, float] = {}
        with self._lock:
            for batch in _chunked(list(ids)):
                found.update(self.conn.execute(
                    f"SELECT id, seq FROM articles WHERE id IN ({','.join('?' * len(batch))})", batch).fetchall())
        return found

    def live(self) -> dict[str, tuple[float, str]]:
        """Every article held: id -> (seq, content hash)."""
        with self._lock:
            return {r[0]: (r[1], r[2]) for r in
                    self.conn.execute("SELECT id, seq, content_hash FROM articles WHERE deleted = 0")}

    def infos(self, ids: set[str]) -> dict[str, ArticleInfo]:
        found: dict[str, ArticleInfo] = {}
        with self._lock:
            for batch in _chunked(sorted(ids)):
                for r in self.conn.execute(
                        "SELECT id, title, url, source, published_at, content_hash, n_chunks, language FROM articles "
                        f"WHERE deleted = 0 AND id IN ({','.join('?' * len(batch))})", batch):
                    found[r[0]] = ArticleInfo(id=r[0], title=r[1], url=r[2], source=r[3], published_at=r[4],
                                              content_hash=r[5], n_chunks=r[6], language=r[7])
        return found

    # --- writes ---------------------------------------------------------------------------

    def apply(self, states: Sequence[ArticleState], force: bool = False) -> int:
        """Make each article what its state says, unless a newer change is already held
        (`force`: regardless). Incomplete states are left for a later try. Returns how many applied."""
        applied = 0
        with self._transaction():
            held = self.seqs([s.article_id for s in states])
            for state in states:
                if not state.complete or (not force and state.article_id in held
                                          and held[state.article_id] >= state.seq):
                    continue
                self._put(state)
                applied += 1
        return applied

    def bulk_load(self, pages: Iterable[LoadPage], position: float) -> int:
        """Fill a fresh index in one transaction, its indexes built after the rows. Rows go in a
        page at a time (executemany, rowids given), with the file's syncs off until the commit:
        a load cut short leaves the index unloaded and is started again. Pages come from
        `load_page` (their texts stemmed beforehand, by rag/stem_worker.py for a large store).
        When any chunk came without its vector, state `vectors_after` says a fill-in is due."""
        n, without = 0, False
        with self._transaction(bulk=True):
            for name in ("rows_chunk", "rows_article"):
                self.conn.execute(f"DROP INDEX IF EXISTS {name}")
            for table in ("chunks", "rows", "articles"):
                self.conn.execute(f"DELETE FROM {table}")
            for page in pages:
                n += len(page.rows)
                without = without or page.without_vectors
                self._insert(page)
            for statement in _INDEXES.strip().split(";"):
                if statement.strip():
                    self.conn.execute(statement)
            self.conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES ('position', ?)", (repr(position),))
            self.conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES ('loaded', '1')")
            if without:
                self.conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES ('vectors_after', '0')")
        return n

    def _put(self, state: ArticleState) -> None:
        """Replace an article's rows by its state's (a tombstone when it has no record)."""
        self._drop_article(state.article_id)
        if state.info is None:
            self.conn.execute("INSERT OR REPLACE INTO articles (id, seq, deleted) VALUES (?, ?, 1)",
                              (state.article_id, state.seq))
            return
        next_row = self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM rows").fetchone()[0]
        self._insert(load_page([state], next_row))

    def _insert(self, page: LoadPage) -> None:
        """A page's records and rows (the one place they are written: loads and changes alike)."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO articles (id, seq, deleted, title, url, source, published_at, content_hash,"
            " n_chunks, language) VALUES (?,?,0,?,?,?,?,?,?,?)", page.records)
        self.conn.executemany("INSERT INTO rows (id, chunk_id, article_id, v) VALUES (?, ?, ?, ?)", page.rows)
        self.conn.executemany(
            "INSERT INTO chunks (rowid, terms, title_terms, text, chunk_id, article_id, idx, start, end_,"
            " published_ts, para_start) VALUES (?,?,?,?,?,?,?,?,?,?,?)", page.texts)

    def _drop_article(self, article_id: str) -> None:
        rowids = [r[0] for r in self.conn.execute("SELECT id FROM rows WHERE article_id = ?", (article_id,))]
        for i in range(0, len(rowids), 500):
            batch = rowids[i: i + 500]
            marks = ",".join("?" * len(batch))
            self.conn.execute(f"DELETE FROM chunks WHERE rowid IN ({marks})", batch)
            self.conn.execute(f"DELETE FROM rows WHERE id IN ({marks})", batch)

    @contextmanager
    def _transaction(self, bulk: bool = False) -> Iterator[None]:
        """One writer at a time (this process's lock, then SQLite's across processes), all or nothing.
        `bulk`: no fsync and a larger page cache while it runs (a fresh load)."""
        with self._lock:
            if bulk:
                self.conn.execute("PRAGMA synchronous=OFF")
                self.conn.execute(f"PRAGMA cache_size=-{_BULK_CACHE_KB}")
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            finally:
                self._rows = None
                if bulk:
                    self.conn.execute("PRAGMA synchronous=NORMAL")
                    self.conn.execute("PRAGMA cache_size=-2000")

    def _rowids(self, chunk_ids: Sequence[str]) -> Iterable[list[int]]:
        for batch in _chunked(list(chunk_ids)):
            found = [r[0] for r in self.conn.execute(
                f"SELECT id FROM rows WHERE chunk_id IN ({','.join('?' * len(batch))})", batch)]
            if found:
                yield found

    # --- reads ----------------------------------------------------------------------------

    def search(self, match: str, k: int, since_ts: int | None = None, until_ts: int | None = None,
               source: str | None = None, language: str | None = None) -> list[RetrievedChunk]:
        """Best first for an FTS5 query from `match()`; `score` is BM25 (higher is better)."""
        if not match:
            return []
        sql = ["SELECT chunk_id, article_id, idx, start, end_, text, para_start, "
               f"-bm25(chunks, {_WEIGHTS}) AS score FROM chunks WHERE chunks MATCH ?"]
        args: list[object] = [match]
        for clause, value in (("published_ts >= ?", since_ts), ("published_ts <= ?", until_ts),
                              ("article_id IN (SELECT id FROM articles WHERE source = ? AND deleted = 0)", source),
                              ("article_id IN (SELECT id FROM articles WHERE language = ? AND deleted = 0)", language)):
            if value is not None:
                sql.append(f"AND {clause}")
                args.append(value)
        sql.append("ORDER BY score DESC LIMIT ?")
        args.append(k)
        with self._lock:
            rows = self.conn.execute(" ".join(sql), args).fetchall()
        infos = self.infos({r[1] for r in rows})
        return [RetrievedChunk(chunk_id=r[0], article_id=r[1], index=r[2], start=r[3], end=r[4], text=r[5],
                               title=infos[r[1]].title, published_at=infos[r[1]].published_at,
                               source=infos[r[1]].source, starts_paragraph=bool(r[6]), score=float(r[7]),
                               language=infos[r[1]].language)
                for r in rows if r[1] in infos]

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
        """The vectors held for these chunks (a chunk loaded without one is left out)."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for batch in _chunked(list(ids)):
                for chunk_id, blob in self.conn.execute(
                        f"SELECT chunk_id, v FROM rows WHERE v IS NOT NULL AND chunk_id IN "
                        f"({','.join('?' * len(batch))})", batch):
                    found[chunk_id] = np.frombuffer(blob, dtype=np.float32)
        return found

    def without_vectors(self, after: int, limit: int) -> list[tuple[int, str]]:
        """Up to `limit` (row, chunk id) held without a vector (left out by a load), past row `after`."""
        with self._lock:
            return self.conn.execute("SELECT id, chunk_id FROM rows WHERE id > ? AND v IS NULL ORDER BY id LIMIT ?",
                                     (after, limit)).fetchall()

    def set_vectors(self, vectors: dict[str, np.ndarray]) -> None:
        """Fill in vectors of chunks held without one (a chunk no longer held is ignored)."""
        with self._transaction():
            self.conn.executemany("UPDATE rows SET v = ? WHERE chunk_id = ? AND v IS NULL",
                                  [(_blob(v), i) for i, v in vectors.items()])

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


def _blob(vector: object) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()


def _chunked(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i: i + size]


def query_stems(text: str) -> list[str]:
    """A question's terms; a Cyrillic word both as written and as its Russian stem (how a
    Russian article holds it, `index_terms`)."""
    terms: list[str] = []
    for w in words(text):
        if w.lower() in STOP_WORDS or (len(w) < 2 and not w.isdigit()):
            continue
        forms = [fts_token(w), fold(snowball_stem(w))] if has_cyrillic(w) else [fts_token(w)]
        terms.extend(s for s in forms if s and s not in terms)
    return terms[:_MAX_TERMS]
