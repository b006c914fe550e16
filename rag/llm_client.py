"""Chat completions from any OpenAI-compatible server, inside one deadline.

The `openai` client's own retries are off: each retry would restart its own timeout, so
timeouts times retries could add up to minutes. Here one `Deadline` bounds the whole answer;
each request gets the smaller of the per-request timeout and the time left, and 429/5xx,
timeouts and dropped connections are retried with backoff (honouring Retry-After) while
time remains.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from rag.config import Settings
from rag.errors import ConfigError, RagError

# Retries: exponential backoff from BACKOFF_FIRST_S, doubling up to BACKOFF_MAX_S; a server's
# Retry-After is honoured up to RETRY_AFTER_MAX_S. All of it stays inside the answer's deadline.
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 8.0
RETRY_AFTER_MAX_S = 30.0
PING_TIMEOUT_S = 2.0  # the readiness probe's model listing


class LLMUnavailable(RagError):
    """The LLM could not produce a reply in time; the message says why, for the user."""


@dataclass
class Deadline:
    seconds: float
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.at = self.clock() + self.seconds

    def left(self) -> float:
        return self.at - self.clock()


@dataclass(frozen=True)
class LLMConfig:
    model: str
    base_url: str | None
    api_key: str
    timeout_s: float
    max_retries: int
    max_tokens: int

    @classmethod
    def from_settings(cls, s: Settings) -> LLMConfig:
        if not s.llm_model:
            raise ConfigError("LLM mode needs a model: set RAG_LLM_MODEL (and RAG_LLM_BASE_URL for a server "
                              "other than OpenAI's, e.g. http://127.0.0.1:8080/v1).")
        key = s.llm_api_key.get_secret_value() if s.llm_api_key else None  # RAG_LLM_API_KEY or OPENAI_API_KEY
        if not key and not s.llm_base_url:
            raise ConfigError("LLM mode against OpenAI needs a key: set RAG_LLM_API_KEY or OPENAI_API_KEY "
                              "(or RAG_LLM_BASE_URL for a local server).")
        # Local servers (llama.cpp, Ollama, vLLM) accept any key, but the client insists on one.
        return cls(s.llm_model, s.llm_base_url, key or "not-needed", s.llm_timeout_s, s.llm_max_retries,
                   s.llm_max_tokens)


class LLMClient:
    def __init__(self, config: LLMConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self._sleep = sleep
        self._client: Any = None

    def _openai(self) -> Any:
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(base_url=self.config.base_url, api_key=self.config.api_key, max_retries=0)
        return self._client

    def stream(self, messages: list[dict[str, str]], deadline: Deadline,
               on_retry: Callable[[], None] | None = None, max_tokens: int | None = None,
               on_usage: Callable[[int, int], None] | None = None) -> Iterator[str]:
        """Yield the reply's text pieces. A failure after pieces were yielded is retried from the
        start (after `on_retry`, so the caller can forget what it saw) while time remains.
        `on_usage(prompt_tokens, completion_tokens)` is called when the server reports them."""
        import httpx
        import openai

        attempt = 0
        while True:
            received = False
            try:
                timeout = self._timeout(deadline)
                response = self._openai().chat.completions.create(
                    model=self.config.model, messages=messages, temperature=0, stream=True,
                    max_tokens=min(max_tokens or self.config.max_tokens, self.config.max_tokens),
                    stream_options={"include_usage": True}, timeout=timeout)
                try:
                    for event in response:
                        if deadline.left() <= 0:
                            raise LLMUnavailable(f"the LLM did not finish within {deadline.seconds:g} s")
                        usage = getattr(event, "usage", None)
                        if usage is not None and on_usage is not None:
                            on_usage(usage.prompt_tokens or 0, usage.completion_tokens or 0)
                        if not event.choices:
                            continue
                        piece = event.choices[0].delta.content
                        if piece:
                            received = True
                            yield piece
                finally:
                    response.close()
                if received:
                    return
                # A stream that ends without a word (a busy server dropping the request) is no
                # answer, and no refusal either: retried, then the caller's fallback.
                wait, reason = _backoff(attempt, None), "an empty reply"
            except LLMUnavailable:
                raise
            except (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError,
                    openai.InternalServerError) as exc:
                wait = _backoff(attempt, exc)
                reason = _describe(exc)
            except openai.APIStatusError as exc:
                if exc.status_code < 500:
                    raise LLMUnavailable(f"the LLM server refused the request: {_describe(exc)}") from exc
                wait, reason = _backoff(attempt, exc), _describe(exc)
            except (openai.APIError, httpx.HTTPError, ValueError) as exc:  # a dropped or malformed stream
                wait, reason = _backoff(attempt, exc), f"bad reply ({type(exc).__name__})"
            attempt += 1
            if attempt > self.config.max_retries:
                raise LLMUnavailable(f"the LLM failed after {attempt} attempt(s): {reason}")
            if deadline.left() <= wait:
                raise LLMUnavailable(f"the LLM did not answer within {deadline.seconds:g} s: {reason}")
            self._sleep(wait)
            if received and on_retry:
                on_retry()

    def complete(self, messages: list[dict[str, str]], deadline: Deadline) -> str:
        return "".join(self.stream(messages, deadline))

    def ping(self, timeout: float = PING_TIMEOUT_S) -> bool:
        try:
            self._openai().models.list(timeout=timeout)
            return True
        except Exception:  # readiness probes report, they do not raise
            return False

    def _timeout(self, deadline: Deadline) -> float:
        left = deadline.left()
        if left <= 0:
            raise LLMUnavailable(f"the LLM did not answer within {deadline.seconds:g} s")
        return min(self.config.timeout_s, left)


def _backoff(attempt: int, exc: Exception | None) -> float:
    response = getattr(exc, "response", None)
    retry_after = response.headers.get("retry-after") if response is not None else None
    if retry_after:
        try:
            return min(float(retry_after), RETRY_AFTER_MAX_S)
        except ValueError:
            pass
    return min(BACKOFF_FIRST_S * 2**attempt, BACKOFF_MAX_S)


def _describe(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    name = {"APITimeoutError": "timed out", "APIConnectionError": "could not connect"}.get(type(exc).__name__)
    if status:
        return f"HTTP {status}"
    return name or type(exc).__name__
