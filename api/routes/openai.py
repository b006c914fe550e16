"""OpenAI-compatible chat: a front-end that speaks the OpenAI API only changes its base URL.

The last user message is the question, earlier user/assistant messages the history. The reply's
content is the answer with [n] markers and a "Sources" list of the quotes; the verified citations
and the whole answer object also come as the extra fields `citations` and `rag`. Models:
`rag-news` (auto), `rag-news-extractive`, `rag-news-llm`; any other name means auto.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse

from rag.config import Mode
from rag.hygiene import inert_markers, inert_sources_header
from rag.timecues import parse_as_of
from rag.types import Answer, Final, Token, final_answer
from rag_api.deps import PipelineDep
from rag_api.schemas import MAX_QUESTION_CHARS, ChatIn
from rag_api.sse import event, started, stream

router = APIRouter(tags=["openai-compatible"])
MODELS: dict[str, Mode] = {"rag-news": "auto", "rag-news-extractive": "extractive", "rag-news-llm": "llm"}
_SOURCES_HEADER = "\n\nSources:\n"
_REPLACED = "\n\n(The text above could not be verified; this answer replaces it.)\n\n"


@router.get("/v1/models", summary="The models this server offers (answer modes)")
def models() -> dict[str, Any]:
    return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "rag-news"}
                                       for name in MODELS]}


@router.post("/v1/chat/completions", summary="OpenAI-compatible chat completion with cited sources",
             response_model=None,
             responses={200: {"description": "chat.completion, or chat.completion.chunk events when streaming; "
                                             "extra fields `citations` (verified) and `rag` (the answer object)"}})
def chat_completions(body: ChatIn, pipeline: PipelineDep) -> dict[str, Any] | StreamingResponse:
    question, history = _split(body)
    mode = MODELS.get(body.model, "auto")
    pipeline.resolve_mode(mode)
    as_of = parse_as_of(body.rag.as_of) if body.rag and body.rag.as_of else None
    events = pipeline.ask_stream(question, mode=mode, history=history, as_of=as_of)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    if not body.stream:
        answer = final_answer(events)
        return {
            "id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content(answer)},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            **_extras(answer),
        }
    return stream(_chunks(started(events), completion_id, body.model),
                  lambda exc: event(None, {"error": {"message": "the answer failed midway; ask again",
                                                     "type": "server_error"}}))


def content(answer: Answer) -> str:
    """The answer as a chat message: text with [n] markers, then the numbered quotes."""
    return body_text(answer.answer) + sources_block(answer)


def body_text(text: str) -> str:
    """Answer text as it goes into the reply: a `Sources:` line in it is not the server's."""
    return inert_sources_header(text)


def sources_block(answer: Answer) -> str:
    """One line per citation: `[n] “quote” — title, date`. Quotes and titles come from articles, so
    they are put on one line and their own [n] / Sources: look-alikes are made inert: every line of
    the block is the server's."""
    if not answer.citations:
        return ""
    lines = []
    for c in answer.citations:
        date = f", {c.published_at}" if c.published_at else ""
        lines.append(f"[{c.n}] “{_one_line(c.quote)}” — {_one_line(c.title)}{date}")
    return _SOURCES_HEADER + "\n".join(lines)


def _one_line(text: str) -> str:
    return inert_markers(" ".join(text.split()))


def _split(body: ChatIn) -> tuple[str, list[tuple[str, str]]]:
    users = [i for i, m in enumerate(body.messages) if m.role == "user"]
    if not users:
        raise HTTPException(422, "messages: no user message to answer")
    last = users[-1]
    question = body.messages[last].text().strip()
    if not question:
        raise HTTPException(422, "messages: the last user message is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise HTTPException(422, f"messages: the question is over {MAX_QUESTION_CHARS} characters")
    history = [(m.role, m.text().split(_SOURCES_HEADER)[0]) for m in body.messages[:last]
               if m.role in ("user", "assistant") and m.text().strip()]
    return question, history


def _extras(answer: Answer) -> dict[str, Any]:
    return {"citations": [c.model_dump() for c in answer.citations], "rag": answer.model_dump()}


def _chunks(events: Iterator[Token | Final], completion_id: str, model: str) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        return event(None, {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time()),
                            "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                            **extra})

    yield chunk({"role": "assistant", "content": ""})
    shown = ""
    for e in events:
        if isinstance(e, Token):
            text = body_text(e.text)  # a "Sources:" split across tokens is caught by the check below
            shown += text
            yield chunk({"content": text})
            continue
        answer = e.answer
        if shown != body_text(answer.answer):
            yield chunk({"content": (_REPLACED if shown else "") + body_text(answer.answer)})
        if answer.citations:
            yield chunk({"content": sources_block(answer)})
        yield chunk({}, "stop", **_extras(answer))
    yield event(None, "[DONE]")
