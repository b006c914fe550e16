from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from rag.pipeline import Filters
from rag.timecues import parse_as_of
from rag.types import Answer, Final, final_answer
from rag_api.deps import PipelineDep
from rag_api.schemas import AskIn, FiltersIn
from rag_api.sse import event, started, stream

router = APIRouter(tags=["answers"])

_SSE_DOC: dict[int | str, dict[str, Any]] = {200: {"content": {"text/event-stream": {
    "example": 'event: token\ndata: {"text": "Belarus offered"}\n\n'
               'event: final\ndata: {"question": "...", "answer": "...", "citations": [...]}\n\n'}},
    "description": "The answer (JSON), or with `stream` / `Accept: text/event-stream` a stream of "
                   "`token` events and one `final` event holding the verified answer, which supersedes them."}}


def to_filters(f: FiltersIn | None) -> Filters:
    f = f or FiltersIn()
    return Filters(f.since, f.until, f.source, f.language)


@router.post("/v1/ask", response_model=Answer, responses=_SSE_DOC,
             summary="Answer a question with verified, verbatim quoted citations")
def ask(body: AskIn, request: Request, pipeline: PipelineDep) -> Answer | StreamingResponse:
    pipeline.resolve_mode(body.mode)  # an unconfigured LLM is a 400 before anything streams
    history = [(t.role, t.content) for t in body.history]
    events = pipeline.ask_stream(body.question, body.top_k, to_filters(body.filters), body.mode, history,
                                 as_of=parse_as_of(body.as_of) if body.as_of else None)
    if not (body.stream or "text/event-stream" in request.headers.get("accept", "")):
        return final_answer(events)
    frames = (event("final", e.answer.model_dump()) if isinstance(e, Final) else event("token", {"text": e.text})
              for e in started(events))
    return stream(frames, lambda exc: event("error", {"detail": "the answer failed midway; ask again"}))
