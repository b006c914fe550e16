"""Server-Sent Events framing, and starting a stream so early errors still get a proper status."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from itertools import chain
from typing import Any, TypeVar

import anyio
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

    return ClosingStream(guarded(), media_type="text/event-stream",
                         headers={"cache-control": "no-cache", "x-accel-buffering": "no"})


class ClosingStream(StreamingResponse):
    """A stream over a sync generator that is closed as soon as the response ends, hang-up included:
    closing it runs the `finally` blocks down the chain, which close the upstream LLM response, so
    the model stops too (a dropped generator would only be closed whenever the GC gets to it)."""

    def __init__(self, frames: Iterator[str], **kwargs: Any) -> None:
        self._frames = frames
        super().__init__(_pull(frames), **kwargs)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        except OSError:  # the client hung up while we wrote: nothing to answer, nothing to log
            pass
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_close, self._frames)


async def _pull(frames: Iterator[str]) -> AsyncIterator[str]:
    while True:  # each step in the thread pool: it may wait for the model
        chunk = await anyio.to_thread.run_sync(next, frames, None)
        if chunk is None:
            return
        yield chunk


def _close(frames: Iterator[str]) -> None:
    try:
        frames.close()  # type: ignore[attr-defined]
    except ValueError:  # still running in another thread; it ends at its next step
        log.debug("stream still running at close")
    except Exception:
        log.debug("closing a stream failed", exc_info=True)
