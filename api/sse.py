"""Server-Sent Events framing, and starting a stream so early errors still get a proper status."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any, TypeVar

from fastapi.responses import StreamingResponse

T = TypeVar("T")
log = logging.getLogger("rag_api")


def event(name: str | None, data: Any) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return (f"event: {name}\n" if name else "") + f"data: {payload}\n\n"


def started(events: Iterator[T]) -> Iterator[T]:
    """Run the stream to its first event now, so retrieval errors (store down, bad settings) become
    an HTTP status rather than an event after a 200."""
    try:
        first = next(events)
    except StopIteration:
        return iter(())
    return chain([first], events)


def stream(frames: Iterable[str], on_error: Callable[[Exception], str]) -> StreamingResponse:
    def guarded() -> Iterator[str]:
        try:
            yield from frames
        except Exception as exc:  # the status is sent; all that is left is to say so in the stream
            log.exception("stream failed")
            yield on_error(exc)

    return StreamingResponse(guarded(), media_type="text/event-stream",
                             headers={"cache-control": "no-cache", "x-accel-buffering": "no"})
