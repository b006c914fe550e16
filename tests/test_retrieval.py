"""Hybrid retrieval: the BM25 index stays consistent with Chroma through every kind of change,
on one process and across "hosts" sharing a `chroma run` server; filters apply to both sides."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.config import Settings
from rag.lexical import query_stems
from rag.pipeline import Filters, Pipeline
from rag.types import Article
from tests.conftest import SEED_QUESTION

MILK = Article(id="omsk", title="Omsk dairy", text="The Zorblat dairy in Omsk signed a deal with Minsk. "
               "It will ship cheese to Vietnam from 2026.", published_at="2025-03-01", source="wire")
TRAM = Article(id="tram", title="Tram line", text="Kazan opened a tram line built by Zorblat engineers.",
               published_at="2024-06-01", source="local")


def lexical_ids(pipeline: Pipeline) -> set[str]:
    pipeline.index.sync()
    return pipeline.index.lexical.ids()


def lexical(pipeline: Pipeline, query: str, filters: Filters = Filters()) -> list[str]:
    params = replace(pipeline.retriever.params, method="lexical")
    return [c.article_id for c in pipeline.retrieve(query, 10, filters, params)]


def test_query_terms_never_pass_user_syntax_through(pipeline):
    assert query_stems('foo" OR bar* NEAR( -baz AND') == ["foo", "bar", "near", "baz"]
    assert query_stems("the and of") == []
    pipeline.ingest([MILK])
    assert lexical(pipeline, 'Zorblat" OR "x* NEAR(') == ["omsk"]


def test_the_index_follows_add_update_delete_and_restart(pipeline, embedder):
    pipeline.ingest([MILK, TRAM])
    assert lexical_ids(pipeline) == pipeline.store.all_chunk_ids()
    assert set(lexical(pipeline, "Zorblat")) == {"omsk", "tram"}
    pipeline.ingest([MILK.model_copy(update={"text": "The Quarnix dairy in Omsk closed."})])
    assert lexical(pipeline, "Zorblat") == ["tram"] and lexical(pipeline, "Quarnix") == ["omsk"]
    assert pipeline.delete_article("tram")
    assert lexical(pipeline, "Zorblat") == [] and lexical_ids(pipeline) == pipeline.store.all_chunk_ids()
    restarted = Pipeline(pipeline.settings, embedder=embedder)
    assert lexical(restarted, "Quarnix") == ["omsk"]


def test_writes_the_index_missed_are_picked_up(pipeline, embedder):
    """A crash between the Chroma write and the index write, or a lost index file, heals itself."""
    pipeline.ingest([MILK])
    chunks = pipeline.chunk(TRAM, TRAM.content_hash)
    pipeline.store.write_articles([(TRAM, TRAM.content_hash, chunks)], embedder.embed([c.text for c in chunks]))
    pipeline.index.sync()  # what the follower does within RAG_SYNC_STALENESS_S
    assert set(lexical(pipeline, "Zorblat")) == {"omsk", "tram"}
    pipeline.index.lexical.path.unlink()
    pipeline.index.lexical.close()
    fresh = Pipeline(pipeline.settings, embedder=embedder)
    assert set(lexical(fresh, "Zorblat")) == {"omsk", "tram"}


def test_two_hosts_on_one_chroma_server_see_each_others_writes(chroma_url, tmp_path, embedder):
    settings = Settings(chroma_url=chroma_url, collection_prefix="hosts", data_dir=tmp_path / "a")
    host_a = Pipeline(settings, embedder=embedder)
    # b reads the change feed before every search (staleness 0), as a follower thread would each second
    host_b = Pipeline(settings.model_copy(update={"data_dir": tmp_path / "b", "sync_staleness_s": 0.0}),
                      embedder=embedder)
    assert host_a.index.lexical.path != host_b.index.lexical.path
    lexical(host_b, "Zorblat")  # b has synced (to an empty store) before a writes
    host_a.ingest([MILK])
    assert lexical(host_b, "Zorblat") == ["omsk"]
    host_a.delete_article("omsk")
    assert lexical(host_b, "Zorblat") == []


@pytest.mark.parametrize("method", ["lexical", "hybrid", "dense"])
def test_date_and_source_filters_apply_on_every_side(pipeline, method):
    pipeline.ingest([MILK, TRAM])
    params = replace(pipeline.retriever.params, method=method)

    def ids(filters: Filters) -> set[str]:
        return {c.article_id for c in pipeline.retrieve("Zorblat dairy tram", 10, filters, params)}

    assert ids(Filters(since="2025-01-01")) == {"omsk"}
    assert ids(Filters(until="2024-12-31")) == {"tram"}
    assert ids(Filters(source="local")) == {"tram"}
    assert ids(Filters(source="nowhere")) == set()


def test_hybrid_results_explain_themselves(seeded_dir, minilm):
    pipeline = Pipeline(Settings(data_dir=seeded_dir), embedder=minilm)
    chunks = pipeline.retrieve("Babushkina Krynka", 5)
    assert chunks[0].lexical_rank == 1 and "Babushkina Krynka" in chunks[0].text
    assert all(c.dense_score is not None and c.dense_rank for c in chunks)
    assert [c.score for c in chunks] == sorted((c.score for c in chunks), reverse=True)
    dense_only = pipeline.retrieve(SEED_QUESTION, 5, params=replace(pipeline.retriever.params, method="dense"))
    assert all(c.lexical_rank is None for c in dense_only)


def test_a_new_replica_searches_on_texts_first_and_fills_in_its_vectors_after(pipeline, embedder, tmp_path,
                                                                               monkeypatch):
    """A load reads texts only (the fast part); a search meanwhile gets the cosines it needs from
    the store, the same numbers; the vectors then come in a batch at a time, across a restart."""
    import rag.index

    pipeline.ingest([MILK, TRAM])
    params = replace(pipeline.retriever.params, method="lexical")

    def scored(p: Pipeline) -> list[tuple[str, float | None]]:
        return [(c.chunk_id, c.dense_score) for c in p.retrieve("Zorblat engineers dairy", 10, Filters(), params)]

    warm = scored(pipeline)
    assert len(warm) == 2 and all(score is not None for _, score in warm)
    fresh_settings = pipeline.settings.model_copy(update={"lexical_dir": tmp_path / "fresh"})
    fresh = Pipeline(fresh_settings, embedder=embedder)
    monkeypatch.setattr(rag.index, "_WORKER_ABOVE", 0)  # stemmed by the worker process, as a large store is
    fresh.index.load()
    ids = fresh.index.lexical.ids()
    assert ids == pipeline.store.all_chunk_ids() and fresh.index.lexical.vectors(list(ids)) == {}
    assert scored(fresh) == warm
    monkeypatch.setattr(rag.index, "_VECTOR_BATCH", 1)
    assert fresh.index.fill_vectors()
    assert len(fresh.index.lexical.vectors(list(ids))) == 1
    fresh.index.lexical.close()
    restarted = Pipeline(fresh_settings, embedder=embedder)  # goes on from the row it had reached
    while restarted.index.fill_vectors():
        pass
    held = restarted.index.lexical.vectors(list(ids))
    assert held.keys() == ids and restarted.index.lexical.get_state("vectors_after") is None
    assert scored(restarted) == warm


def test_a_load_stems_in_its_own_process_when_the_stem_worker_cannot_start(pipeline, embedder, tmp_path,
                                                                          monkeypatch, caplog):
    import rag.index

    def no_worker() -> None:
        raise OSError("no more processes")

    monkeypatch.setattr(rag.index, "StemWorker", no_worker)
    monkeypatch.setattr(rag.index, "_WORKER_ABOVE", 0)
    pipeline.ingest([MILK, TRAM])
    fresh = Pipeline(pipeline.settings.model_copy(update={"lexical_dir": tmp_path / "fresh"}), embedder=embedder)
    fresh.index.load()
    assert "the stem worker did not start: no more processes" in caplog.text
    assert set(lexical(fresh, "Zorblat")) == {"omsk", "tram"} and lexical(fresh, "Vietnam") == ["omsk"]


def test_a_one_shot_process_fills_in_the_vectors_with_its_load(pipeline, embedder, tmp_path):
    """No follower thread would fill them in later: the CLI's first search loads them too."""
    pipeline.ingest([MILK, TRAM])
    fresh = Pipeline(pipeline.settings.model_copy(update={"lexical_dir": tmp_path / "fresh"}), embedder=embedder)
    assert set(lexical(fresh, "Zorblat")) == {"omsk", "tram"}
    ids = fresh.index.lexical.ids()
    assert len(ids) == 2 and fresh.index.lexical.vectors(list(ids)).keys() == ids


def test_a_load_cut_short_leaves_the_index_unloaded_and_the_next_load_completes(pipeline, embedder, tmp_path,
                                                                               monkeypatch):
    """Chroma failing half-way through a load: the error reaches the caller, no loader thread or
    stem worker is left behind, the file is not marked loaded, and the next load is whole."""
    import threading

    import rag.index
    from rag.errors import StoreUnavailable

    pipeline.ingest([MILK, TRAM])
    monkeypatch.setattr(rag.index, "_WORKER_ABOVE", 0)
    monkeypatch.setattr(rag.index, "_LOAD_BATCH", 1)  # one article a batch: the second batch fails
    fresh = Pipeline(pipeline.settings.model_copy(update={"lexical_dir": tmp_path / "fresh"}), embedder=embedder)
    store = fresh.index.store
    read = store.states
    batches: list[list[str]] = []

    def failing(ids, *args, **kwargs):  # type: ignore[no-untyped-def]
        batches.append(list(ids))
        if len(batches) == 2:
            raise StoreUnavailable("the Chroma server went away")
        return read(ids, *args, **kwargs)

    monkeypatch.setattr(store, "states", failing)
    with pytest.raises(StoreUnavailable, match="went away"):
        fresh.index.load()
    assert not fresh.index.lexical.loaded() and not fresh.index.lexical_ready()
    assert not [t.name for t in threading.enumerate() if t.name.startswith("rag-load")]
    assert fresh.index.stats.worker_peak_rss_mb is not None  # the worker ran, and was closed
    monkeypatch.setattr(store, "states", read)
    fresh.index.load()
    assert set(lexical(fresh, "Zorblat")) == {"omsk", "tram"}
