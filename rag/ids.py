"""The id and change-detection rules.

An article's id comes from its identity, never its content: the record's `id`, else its `url`,
else the file name it came from (plus `#N` for the N-th record of a JSON/JSONL file).
Its content hash (title, text, date, source, url) decides whether a re-ingest changes anything.
"""

from __future__ import annotations

import hashlib
import json
from typing import Protocol


class Hashed(Protocol):
    """What the content hash covers (rag.types.Article has it): a leaf module needs no import of it."""

    @property
    def title(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def published_at(self) -> str | None: ...
    @property
    def source(self) -> str | None: ...
    @property
    def url(self) -> str | None: ...


def content_hash(article: Hashed) -> str:
    payload = json.dumps(
        [article.title, article.text, article.published_at, article.source, article.url],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def chunk_id(article_id: str, article_hash: str, index: int) -> str:
    # The content hash in the id keeps a new version's chunks apart from the old ones until
    # the old ones are deleted, so an interrupted re-ingest never mixes versions.
    return f"{article_id}::{article_hash[:12]}::{index}"
