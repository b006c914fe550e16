"""Article extraction from a fetched page with a time budget (issue 27, row 8).

trafilatura can spend a minute of CPU and half a gigabyte on one hostile page (4.9 MB of links),
and a thread cannot be stopped. So extraction runs in one worker process (spawned, so it shares
nothing with the server's threads), one page at a time; a page that takes longer than its budget
gets the worker stopped (its memory goes with it) and a one-line error, and the next page starts
a fresh worker. Pages are taken in turn: extraction is CPU-bound, so running two at once in this
process would not be faster (the GIL), only harder to bound.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

_lock = threading.Lock()
_START_S = 120.0
_pool: Any = None


class ExtractionTimeout(Exception):  # noqa: N818
    pass


def _warm() -> None:
    import trafilatura  # noqa: F401


def _bare(content: str | bytes, url: str) -> dict[str, Any] | None:
    import trafilatura

    doc = trafilatura.bare_extraction(content, url=url, with_metadata=True, include_comments=False)
    if doc is None:
        return None
    return {name: getattr(doc, name, None) for name in ("text", "title", "url", "sitename", "date")}


def _stop(pool: Any) -> None:
    pool.terminate()
    pool.join()


def extract(content: str | bytes, url: str, timeout_s: float | None) -> dict[str, Any] | None:
    """trafilatura's text and metadata of a page: in this process without a budget, else in the
    worker within `timeout_s` seconds (ExtractionTimeout past it)."""
    global _pool
    if timeout_s is None:
        return _bare(content, url)
    import multiprocessing

    with _lock:
        if _pool is None:
            # One worker for the process's life: a replaced worker's start-up would count against
            # a page's budget. A worker stopped at a budget takes its memory with it.
            _pool = multiprocessing.get_context("spawn").Pool(1)
            atexit.register(_stop, _pool)
            # The worker's start (a Python and trafilatura's import) is not part of a page's budget.
            _pool.apply_async(_warm).get(_START_S)
        pending = _pool.apply_async(_bare, (content, url))
        try:
            return pending.get(timeout_s)
        except multiprocessing.TimeoutError:
            _stop(_pool)
            atexit.unregister(_stop)
            _pool = None
            raise ExtractionTimeout(f"text extraction took longer than {timeout_s:g}s "
                                    "(RAG_FETCH_EXTRACT_TIMEOUT_S); gave up on this page") from None
