"""The stem worker (a second process for a new replica's load) stems exactly as the index does."""

from __future__ import annotations

from rag.stem_worker import StemWorker
from rag.terms import stems_of

TEXTS = ["Belarus offered Astrakhan’s dairies a deal; the Zorblat plants' output rose 12%.",
         "Café owners in Zürich didn't expect naïve offers", "", "x_y __init__ 2026-03-01 O'Neill's"]


def test_the_worker_stems_batches_as_this_process_does_and_stops_when_closed():
    worker = StemWorker()
    try:
        for batch in (TEXTS, TEXTS[::-1], []):
            worker.send(batch)
            assert worker.receive() == [stems_of(t) for t in batch]
        peak = worker.peak_rss_mb()
        assert peak is not None and 1 < peak < 500
    finally:
        worker.close()
    assert worker._proc.returncode == 0
