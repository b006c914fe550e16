"""Chunking without the model: sentence boundaries, overlap, exact slices of any text, and the
chunker version in the collection name (the window checks against MiniLM: tests/test_chunking.py)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag import chunking
from rag.chunking import chunk_article
from rag.loaders import load_paths
from rag.store import collection_stem
from rag.tokens import get_encoding
from rag.types import Article
from tests.conftest import SEEDS

ENC = get_encoding("cl100k_base")


def count(texts):
    return [len(t) for t in ENC.encode_batch(texts, disallowed_special=())]


def seed_article() -> Article:
    return load_paths([SEEDS], 10**7).articles[0]


def assert_exact(article: Article, chunks) -> None:
    assert chunks, "no chunks"
    for c in chunks:
        assert article.text[c.start:c.end] == c.text
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    non_space = {i for i, ch in enumerate(article.text) if not ch.isspace()}
    assert non_space <= covered, "some text is in no chunk"


def test_chunks_end_on_sentence_boundaries():
    article = seed_article()
    for c in chunk_article(article, count, 100, 20):
        assert c.text[-1] in ".!?”\"", c.text[-20:]


def test_overlap_repeats_trailing_sentences_within_a_paragraph():
    text = " ".join(f"Sentence number {i} is here." for i in range(60))
    chunks = chunk_article(Article(id="a", text=text, title="t"), count, 50, 20)
    assert len(chunks) > 2
    assert all(b.start < a.end for a, b in zip(chunks, chunks[1:], strict=False))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=120), min_size=1, max_size=12))
def test_any_unicode_text_chunks_back_exactly(parts):
    text = "\n\n".join(parts)
    if not text.strip():
        return
    article = Article(id="h", text=text, title="t")
    chunks = chunk_article(article, count, 32, 8)
    for c in chunks:
        assert text[c.start:c.end] == c.text
        assert c.text.strip()


def test_the_collection_stem_names_the_chunker_version(monkeypatch: pytest.MonkeyPatch) -> None:
    before = collection_stem("rag", "e", "cl100k_base", 160, 32, 160)
    monkeypatch.setattr(chunking, "CHUNKER_VERSION", chunking.CHUNKER_VERSION + 1)
    assert collection_stem("rag", "e", "cl100k_base", 160, 32, 160) != before
