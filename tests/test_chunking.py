"""Chunks against the MiniLM model's window (the model-free chunking tests: tests/unit/test_chunking.py)."""

from rag.chunking import chunk_article
from rag.types import Article
from tests.unit.test_chunking import assert_exact, count, seed_article


def test_seed_chunks_slice_back_and_fit_the_model(minilm):
    article = seed_article()
    chunks = chunk_article(article, count, 160, 32, minilm.count_tokens, minilm.max_tokens)
    assert_exact(article, chunks)
    assert max(minilm.count_tokens([c.text for c in chunks])) <= minilm.max_tokens
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_tricky_text_mixed_quotes_non_ascii_and_a_sentence_with_no_punctuation(minilm):
    endless = " ".join(f"слово{i} ‘word’ “q” naïve" for i in range(400))
    text = (
        "Лукашенко said “we’re ready” and 'we're ready' — both.\n\n"
        f"{endless}\n\n"
        "Zero\u200bwidth and emoji 😀 here. الرئيس قال. Done."
    )
    article = Article(id="tricky", text=text, title="t")
    chunks = chunk_article(article, count, 64, 16, minilm.count_tokens, minilm.max_tokens)
    assert_exact(article, chunks)
    assert max(minilm.count_tokens([c.text for c in chunks])) <= minilm.max_tokens
    assert max(count([c.text for c in chunks])) <= 64


