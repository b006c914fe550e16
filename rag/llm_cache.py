"""Replies of the LLM kept in a SQLite file, keyed by model and messages, so a re-run (an eval,
a judge, a generated set) asks the model only what it has not asked before. Wraps anything with
LLMClient's `complete(messages, deadline)` and a `config.model`; replies are stored only when the
call succeeded.

`BatchLLM` is that `complete` without streaming, for batch work (the judge, the question
generator) where nobody watches the tokens arrive: one request, one reply. (On 7 December 2026
the shared llama-cpp-python server streamed an empty reply to every request while its plain
completions answered; a batch job should not depend on streaming.)"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Protocol

from rag.llm_client import Deadline, LLMConfig, LLMUnavailable


class Completes(Protocol):
    config: LLMConfig

    def complete(self, messages: list[dict[str, str]], deadline: Deadline) -> str: ...


class BatchLLM:
    """`complete(messages, deadline)`: one non-streaming chat completion at temperature 0, retried
    (429, 5xx, timeouts) by the client up to `config.max_retries` times within the deadline."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self._client: Any = None

    def complete(self, messages: list[dict[str, str]], deadline: Deadline) -> str:
        import openai

        if self._client is None:
            self._client = openai.OpenAI(base_url=self.config.base_url, api_key=self.config.api_key,
                                         max_retries=self.config.max_retries)
        left = deadline.left()
        if left <= 0:
            raise LLMUnavailable(f"the LLM did not answer within {deadline.seconds:g} s")
        try:
            response = self._client.chat.completions.create(
                model=self.config.model, messages=messages, temperature=0, max_tokens=self.config.max_tokens,
                timeout=min(left, max(self.config.timeout_s, 1.0)))
        except openai.APIError as exc:
            raise LLMUnavailable(f"the LLM failed: {type(exc).__name__}: {exc}") from exc
        return str(response.choices[0].message.content or "") if response.choices else ""


def cache_key(model: str, messages: list[dict[str, str]]) -> str:
    payload = json.dumps({"model": model, "messages": messages}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class CachedLLM:
    """`complete(messages, deadline)` as LLMClient's, answered from `path` when it can be.
    `hits` and `misses` count, for reports."""

    def __init__(self, client: Completes, path: Path) -> None:
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
        if not reply.strip():
            return reply  # an empty reply is a fault of the moment, not an answer to keep
        with self._lock:
            db = self._conn()
            db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?)", (key, self.client.config.model, reply))
            db.commit()
        return reply

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
