"""Is the data folder usable? One clear sentence when not (issue 16, item 11).

A RAG_DATA_DIR that is a file, or that cannot be written, otherwise surfaces as a long traceback
from deep inside Chroma or SQLite. The CLI checks it before building the pipeline; the API turns
an unexpected error into a 503 carrying this reason, and /readyz reports it.
"""

from __future__ import annotations

import os
from pathlib import Path

from rag.config import Settings


def data_dir_problem(settings: Settings) -> str | None:
    """Why the local data folders cannot be used, or None when they can (or are not used)."""
    folders = [("RAG_LEXICAL_DIR", settings.lexical_dir)] if settings.lexical_dir else []
    if not settings.chroma_url:
        folders.insert(0, ("RAG_DATA_DIR", settings.data_dir))
    elif not settings.lexical_dir:
        folders.append(("RAG_DATA_DIR", settings.data_dir))  # the BM25 index lives there
    for name, folder in folders:
        problem = _folder_problem(Path(folder))
        if problem:
            return f"{name} {str(folder)!r} {problem}"
    return None


def _folder_problem(path: Path) -> str | None:
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        where = "" if existing == path else f" (its parent {str(existing)!r} is a file)"
        return f"is not a folder{where}: point it at a folder (it is created when missing)"
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "is read-only" if existing == path else f"cannot be created: {str(existing)!r} is read-only"
        return f"{where}: the store needs to write there; use a writable folder"
    if existing == path:
        for child in path.iterdir():
            if child.is_dir() and not os.access(child, os.W_OK | os.X_OK):
                return f"holds a read-only folder {child.name!r}: the store needs to write there"
    return None
