"""Retry timing of the LLM client (rag.llm_client): backoff, Retry-After and the deadline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from rag.llm_client import (
    BACKOFF_FIRST_S,
    BACKOFF_MAX_S,
    RETRY_AFTER_MAX_S,
    Deadline,
    LLMClient,
    LLMConfig,
    LLMUnavailable,
    _backoff,
)


def rate_limited(retry_after: str | None = None, status: int = 429) -> openai.APIStatusError:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    response = httpx.Response(status, headers=headers, request=httpx.Request("POST", "http://llm.test/v1"))
    cls = {429: openai.RateLimitError, 400: openai.BadRequestError}.get(status, openai.InternalServerError)
    return cls("busy", response=response, body=None)


@pytest.mark.parametrize("retry_after, attempt, wait", [
    ("3", 0, 3.0),
    ("0.25", 5, 0.25),  # the server's word beats the backoff
    ("3600", 0, RETRY_AFTER_MAX_S),  # capped
    ("Wed, 21 Oct 2015 07:28:00 GMT", 1, BACKOFF_FIRST_S * 2),  # an HTTP date is not read: backoff
    (None, 0, BACKOFF_FIRST_S),
    (None, 2, BACKOFF_FIRST_S * 4),
    (None, 20, BACKOFF_MAX_S),
], ids=["seconds", "short", "capped", "http-date", "first", "third", "backoff-capped"])
def test_backoff(retry_after: str | None, attempt: int, wait: float) -> None:
    assert _backoff(attempt, rate_limited(retry_after)) == wait


def test_backoff_without_a_response() -> None:
    assert _backoff(1, ValueError("malformed stream")) == BACKOFF_FIRST_S * 2


class _Delta:
    def __init__(self, content: str) -> None:
        self.choices = [type("Choice", (), {"delta": type("Delta", (), {"content": content})()})()]


class _Stream:
    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces

    def __iter__(self) -> Iterator[_Delta]:
        return iter(_Delta(p) for p in self.pieces)

    def close(self) -> None:
        pass


class _FakeOpenAI:
    """`chat.completions.create` raises the scripted errors in turn, then streams the reply."""

    def __init__(self, script: list[Exception | list[str]]) -> None:
        self.script = script
        self.chat = self
        self.completions = self
        self.timeouts: list[float] = []

    def create(self, **kwargs: Any) -> _Stream:
        self.timeouts.append(kwargs["timeout"])
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return _Stream(step)


def client(script: list[Exception | list[str]], retries: int = 2) -> tuple[LLMClient, list[float]]:
    slept: list[float] = []
    llm = LLMClient(LLMConfig("m", None, "k", timeout_s=20.0, max_retries=retries, max_tokens=10),
                    sleep=slept.append)
    llm._client = _FakeOpenAI(script)
    return llm, slept


def test_retries_honour_retry_after_then_stream_the_reply() -> None:
    llm, slept = client([rate_limited("1.5"), rate_limited(None, status=503), ["Machinery", " [1]."]])
    assert "".join(llm.stream([], Deadline(60))) == "Machinery [1]."
    assert slept == [1.5, BACKOFF_FIRST_S * 2]


@pytest.mark.parametrize("script, retries, deadline, message", [
    ([rate_limited("1"), rate_limited("1"), rate_limited("1")], 2, 60, "after 3 attempt(s): HTTP 429"),
    ([rate_limited("30")], 2, 5, "did not answer within 5 s: HTTP 429"),  # the wait would pass the deadline
    ([rate_limited(None, status=400)], 2, 60, "refused the request"),
], ids=["retries-exhausted", "retry-after-past-deadline", "client-error-not-retried"])
def test_giving_up_says_why(script: list[Exception | list[str]], retries: int, deadline: float,
                            message: str) -> None:
    llm, _ = client(script, retries)
    with pytest.raises(LLMUnavailable, match=message.replace("(", r"\(").replace(")", r"\)")):
        "".join(llm.stream([], Deadline(deadline)))


def test_each_request_gets_at_most_the_time_left() -> None:
    now = [0.0]
    llm, _ = client([["ok"]])
    assert "".join(llm.stream([], Deadline(5, clock=lambda: now[0]))) == "ok"
    assert llm._client.timeouts == [5.0]


def test_an_empty_reply_is_retried_and_then_no_answer() -> None:
    llm, slept = client([[], ["", "Machinery [1]."]])  # a busy server's empty stream, then the reply
    assert "".join(llm.stream([], Deadline(60))) == "Machinery [1]." and slept == [BACKOFF_FIRST_S]
    llm, _ = client([[], [], []], retries=2)
    with pytest.raises(LLMUnavailable, match=r"after 3 attempt\(s\): an empty reply"):
        "".join(llm.stream([], Deadline(60)))
