"""Ingest and ask on both backends: embedded Chroma and a real `chroma run` server."""

from rag.loaders import load_paths
from rag.pipeline import Filters
from rag.types import Article
from tests.conftest import SEED_ID, SEEDS


def seed() -> Article:
    return load_paths([SEEDS], 10**7).articles[0]


def test_reingest_is_a_no_op_and_embeds_nothing(pipeline, embedder):
    first = pipeline.ingest([seed()])
    assert [s for _, s, _ in first.results] == ["added"]
    chunks = pipeline.store.count_chunks()
    embedded = embedder.embedded
    again = pipeline.ingest([seed()])
    assert [s for _, s, _ in again.results] == ["unchanged"]
    assert embedder.embedded == embedded
    assert pipeline.store.count_chunks() == chunks


def test_edited_article_replaces_all_its_chunks(pipeline):
    article = seed()
    pipeline.ingest([article])
    before = pipeline.store.count_chunks()
    shorter = article.model_copy(update={"text": article.text[:400]})
    report = pipeline.ingest([shorter])
    assert [s for _, s, _ in report.results] == ["updated"]
    stored = pipeline.store.article_chunks(article.id)
    assert 0 < len(stored) < before
    assert all(c.end <= 400 for c in stored)
    assert pipeline.store.count_chunks() == len(stored)
    info, text = pipeline.store.get_article(article.id)
    assert text == shorter.text and info.n_chunks == len(stored)


def test_delete_removes_article_and_chunks(pipeline):
    pipeline.ingest([seed(), Article(id="other", text="Another article about rain.", title="Rain")])
    assert pipeline.delete_article(SEED_ID)
    assert not pipeline.delete_article(SEED_ID)
    assert [a.id for a in pipeline.store.list_articles()] == ["other"]
    assert {c.article_id for c in pipeline.retrieve("Belarus", 5)} == {"other"}


def test_quotes_slice_back_exactly_and_filters_apply(pipeline):
    other = Article(id="later", text="Belarus offered Kazakhstan buses in June.", title="Later",
                    published_at="2025-06-01", source="wire")
    pipeline.ingest([seed(), other])
    texts = {SEED_ID: seed().text, "later": other.text}
    answer = pipeline.ask("What did Belarus offer Astrakhan?")
    assert not answer.refused and answer.citations
    for c in answer.citations:
        assert texts[c.article_id][c.start:c.end] == c.quote
        assert f"[{c.n}]" in answer.answer
    assert {c.article_id for c in pipeline.retrieve("buses", 5, Filters(since="2025-05-10"))} == {"later"}
    assert {c.article_id for c in pipeline.retrieve("buses", 5, Filters(until="2025-05-02"))} == {SEED_ID}
    assert {c.article_id for c in pipeline.retrieve("buses", 5, Filters(source="wire"))} == {"later"}
