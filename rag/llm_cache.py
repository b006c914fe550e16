"""Replies of the LLM kept in a SQLite file, keyed by model, messages and reply cap, so a re-run (an
eval, a judge, a generated set) asks the model only what it has not asked before, and a change to
the checks or the gate re-scores a set without the model (`rag eval --llm-cache FILE`).

`CachedLLM` is an `LLMClient`: answerers stream from it as from the real one, and the judge and the
question generator call its `complete`. It wraps either a streaming `LLMClient` or anything with a
`complete(messages, deadline)` and a `config.model` (`BatchLLM`: one non-streaming request, for
batch work where nobody watches the tokens arrive; on 7 December 2026 the shared llama-cpp-python
server streamed empty replies for a while when its plain completions answered). A reply is stored
only when it has a word in it; a hit comes back whole, with the token usage the server reported the
first time. Refresh by deleting the file (or passing a new one) after a change of model, prompt or
server settings: the key holds the model name and the messages, not the server's weights.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from rag.llm_client import Deadline, LLMClient, LLMConfig, LLMUnavailable


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


def cache_key(model: str, messages: list[dict[str, str]], max_tokens: int | None = None) -> str:
    payload = json.dumps({"model": model, "messages": messages, "max_tokens": max_tokens}, sort_keys=True,
                         ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class CachedLLM(LLMClient):
    """`client`'s replies, answered from `path` when they can be; `hits` and `misses` count."""

    def __init__(self, client: LLMClient | Completes, path: Path) -> None:
        super().__init__(client.config)
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
            self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, model TEXT, reply TEXT, "
                             "prompt_tokens INTEGER, completion_tokens INTEGER)")
        return self._db

    def stream(self, messages: list[dict[str, str]], deadline: Deadline,
               on_retry: Callable[[], None] | None = None, max_tokens: int | None = None,
               on_usage: Callable[[int, int], None] | None = None) -> Iterator[str]:
        key = cache_key(self.config.model, messages, max_tokens)
        with self._lock:
            row = self._conn().execute("SELECT reply, prompt_tokens, completion_tokens FROM replies WHERE key = ?",
                                       (key,)).fetchone()
        if row is not None:
            self.hits += 1
            if on_usage is not None and row[1] is not None:
                on_usage(int(row[1]), int(row[2]))
            yield str(row[0])
            return
        pieces: list[str] = []
        usage: list[tuple[int, int]] = []

        def retried() -> None:
            pieces.clear()
            if on_retry:
                on_retry()

        def used(prompt: int, completion: int) -> None:
            usage.append((prompt, completion))
            if on_usage:
                on_usage(prompt, completion)

        if isinstance(self.client, LLMClient):
            for piece in self.client.stream(messages, deadline, retried, max_tokens, used):
                pieces.append(piece)
                yield piece
        else:
            pieces.append(self.client.complete(messages, deadline))
            yield pieces[0]
        self.misses += 1
        if not "".join(pieces).strip():  # an empty reply is a fault of the moment, not an answer to keep
            return
        prompt, completion = usage[-1] if usage else (None, None)
        with self._lock:
            db = self._conn()
            db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?)",
                       (key, self.config.model, "".join(pieces), prompt, completion))
            db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
