"""A second process that stems texts for a new replica's bulk load (rag/index.py).

Stemming is most of a load's CPU. In the loading process it would run between the fetching and
the SQLite writes, and in a thread it would fight them for the GIL; in a process of its own it
runs beside them, on the other core. Framed pickles over the child's stdin and stdout; the child
imports rag.language and rag.terms only (a Russian article's texts come with its language).
A load whose worker cannot start or dies stems in the loading process,
and so does the load of a small store (rag.index._WORKER_ABOVE), done before a process would start.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import IO

from rag.language import StemItem, index_terms


class StemWorker:
    """One child process; `send` a batch of texts, then `receive` their stems, in turn."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen([sys.executable, "-c", "from rag.stem_worker import serve; serve()"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._proc.stdin is not None and self._proc.stdout is not None  # both are PIPEs
        self._in: IO[bytes] = self._proc.stdin
        self._out: IO[bytes] = self._proc.stdout

    def send(self, texts: list[StemItem]) -> None:
        pickle.dump(texts, self._in, protocol=pickle.HIGHEST_PROTOCOL)
        self._in.flush()

    def receive(self) -> list[str]:
        stems: list[str] = pickle.load(self._out)
        return stems

    def peak_rss_mb(self) -> float | None:
        """The child's peak resident memory so far (Linux; None where /proc says nothing)."""
        try:
            for line in Path(f"/proc/{self._proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def close(self) -> None:
        try:
            self._in.close()
        except OSError:
            pass
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._out.close()


def serve() -> None:
    """The child's loop: a list of texts in, their stems out, until its input ends."""
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            texts = pickle.load(source)
        except EOFError:
            return
        pickle.dump([index_terms(t) for t in texts], sink, protocol=pickle.HIGHEST_PROTOCOL)
        sink.flush()
