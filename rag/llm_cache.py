"""Replies of the LLM kept in a SQLite file, keyed by model and messages, so a re-run (an eval,
a judge, a generated set) asks the model only what it has not asked before. Wraps LLMClient's
`complete`; replies are stored only when the call succeeded."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

from rag.llm_client import Deadline, LLMClient


def cache_key(model: str, messages: list[dict[str, str]]) -> str:
    payload = json.dumps({"model": model, "messages": messages}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class CachedLLM:
    """`complete(messages, deadline)` as LLMClient's, answered from `path` when it can be.
    `hits` and `misses` count, for reports."""

    def __init__(self, client: LLMClient, path: Path) -> None:
        self.client = client
        self.path = path
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, model TEXT, reply TEXT)")
        return self._db

    def complete(self, messages: list[dict[str, str]], deadline: Deadline) -> str:
        key = cache_key(self.client.config.model, messages)
        with self._lock:
            row = self._conn().execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        if row is not None:
            self.hits += 1
            return str(row[0])
        reply = self.client.complete(messages, deadline)
        self.misses += 1
        with self._lock:
            db = self._conn()
            db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?)", (key, self.client.config.model, reply))
            db.commit()
        return reply

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
