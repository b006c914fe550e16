"""The fitters: one command each, and each writes what it fits into rag/tuning.py.

    python -m rag.fit refusal    # the extractive refusal model (rag/answering/evidence.py)
    python -m rag.fit recency    # the time cues' recency priors (rag/timecues.py)
    python -m rag.fit confidence # the answer confidence and its calibration (rag/answering/confidence.py)

A fitted value sits in rag/tuning.py between `# >>> fitted NAME` and `# <<< fitted NAME`, under a
header saying the command, the data and the date that produced it; `write_fitted` replaces that
block and nothing else. `--dry-run` prints the block instead of writing it. The real-news data
(../shared/data/news-dev) is read at run time and never copied: only the numbers are written.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

TUNING = Path(__file__).resolve().parent.parent / "tuning.py"
ROOT = TUNING.parent.parent  # the project folder (the fitters read evals/ from it)


def fitted_block(name: str, body: Sequence[str], command: str, data: str, when: str | None = None) -> str:
    """The block `write_fitted` puts in rag/tuning.py (without its marker lines)."""
    day = when or datetime.now(UTC).date().isoformat()
    return "\n".join([f"# command: {command}", f"# data: {data}", f"# date: {day}", *body]) + "\n"


def write_fitted(name: str, body: Sequence[str], command: str, data: str, path: Path = TUNING,
                 dry_run: bool = False, when: str | None = None) -> str:
    """Replace the `name` block of rag/tuning.py with `body` (Python lines) under its header."""
    block = fitted_block(name, body, command, data, when)
    if dry_run:
        print(f"# >>> fitted {name}\n{block}# <<< fitted {name}")
        return block
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(rf"(^# >>> fitted {re.escape(name)}\n).*?(^# <<< fitted {re.escape(name)}\n)", re.S | re.M)
    if not pattern.search(text):
        raise SystemExit(f"{path} has no '# >>> fitted {name}' block to replace")
    path.write_text(pattern.sub(lambda m: m.group(1) + block + m.group(2), text, count=1), encoding="utf-8")
    print(f"wrote the fitted {name} values to {path}", file=sys.stderr)
    return block


def command_line(name: str, argv: Sequence[str]) -> str:
    """The command that wrote a block, as its header records it (without --dry-run)."""
    return " ".join(["python -m rag.fit", name, *(a for a in argv if a != "--dry-run")])
