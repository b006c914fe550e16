"""A chunker change re-chunks: CHUNKER_VERSION (rag/chunking.py) is part of the collection name."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import chunking
from rag.config import Settings
from rag.pipeline import Pipeline
from rag.types import Article
from tests.fakes import HashEmbedder

ARTICLE = Article(id="minsk", title="Talks in Minsk", text="Belarus offered tractors. " * 40)


def test_a_new_chunker_version_chunks_an_unchanged_article_again(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=tmp_path / "store")
    first = Pipeline(settings, embedder=HashEmbedder())
    assert first.ingest([ARTICLE]).results[0][1] == "added"
    assert Pipeline(settings, embedder=HashEmbedder()).ingest([ARTICLE]).results[0][1] == "unchanged"

    monkeypatch.setattr(chunking, "CHUNKER_VERSION", chunking.CHUNKER_VERSION + 1)
    rechunked = Pipeline(settings, embedder=HashEmbedder())
    assert rechunked.store.stem != first.store.stem
    assert rechunked.ingest([ARTICLE]).results[0][1] == "added"
    assert [c.text for c in rechunked.store.article_chunks("minsk")] == [c.text for c in rechunked.chunk(ARTICLE)]
