"""A polling pass as a job (issue 27, item 2): started at once, run off the request workers, one
at a time per store; a second request while one runs joins it.

The pass runs on a thread of its own, so however many refreshes are asked for, the API's request
workers stay free (`/healthz` answers at once). Its state is read with `RefreshJobs.get(id)`:
started, each feed's result as it finishes, then finished with the pass's report (or the error
that stopped it). The last `_KEEP` jobs are kept in memory; a job does not survive a restart
(the feed state the pass saves does).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rag.feeds import FeedResult, PassReport
from rag.hygiene import redact_credentials

_KEEP = 50


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass
class RefreshJob:
    id: str
    store: str
    urls: list[str] | None
    state: str = "running"  # "running", "finished", "failed"
    started_at: str = field(default_factory=_now)
    finished_at: str | None = None
    feeds: list[dict[str, Any]] = field(default_factory=list)  # each feed's result as it comes
    report: dict[str, Any] | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "started_at": self.started_at, "finished_at": self.finished_at,
                "urls": self.urls, "feeds": list(self.feeds), "report": self.report, "error": self.error}


class RefreshJobs:
    """The jobs of one process. `start` returns (job, joined)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, RefreshJob] = OrderedDict()
        self._running: dict[str, RefreshJob] = {}

    def start(self, store: str, urls: Sequence[str] | None,
              run: Callable[[Callable[[FeedResult], None]], PassReport]) -> tuple[RefreshJob, bool]:
        with self._lock:
            running = self._running.get(store)
            if running is not None:
                return running, True
            job = RefreshJob(id=uuid.uuid4().hex, store=store, urls=list(urls) if urls is not None else None)
            self._running[store] = job
            self._jobs[job.id] = job
            while len(self._jobs) > _KEEP:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].state == "running":
                    break
                del self._jobs[oldest]
        threading.Thread(target=self._run, args=(job, run), name=f"rag-refresh-{job.id[:8]}", daemon=True).start()
        return job, False

    def get(self, job_id: str) -> RefreshJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _run(self, job: RefreshJob, run: Callable[[Callable[[FeedResult], None]], PassReport]) -> None:
        def progress(result: FeedResult) -> None:
            job.feeds.append({"url": redact_credentials(result.url), "status": result.status,
                              "entries": result.entries, "changed": result.changed, "deferred": result.deferred,
                              "problems": [p.as_dict() for p in result.problems]})

        try:
            report = run(progress)
            job.report = report.as_dict()
            job.state = "finished"
        except Exception as exc:  # the job says why it stopped; the server goes on
            job.error = redact_credentials(str(exc).splitlines()[0][:500]) if str(exc) else type(exc).__name__
            job.state = "failed"
        finally:
            job.finished_at = _now()
            with self._lock:
                self._running.pop(job.store, None)
            job.done.set()
