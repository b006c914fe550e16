"""The index layer's invariant (rag/index.py): record <=> chunks <=> BM25 rows, after every write,
including 64 concurrent POST/POST/DELETE/ask on one article id, on embedded Chroma and on a
`chroma run` server shared by two "workers"; deleted text never comes back; the unchanged check
trusts no record whose chunks are gone; field caps; disk per article."""

from __future__ import annotations

import random
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from rag.config import Settings
from rag.loaders import FIELD_LIMITS
from rag.pipeline import Pipeline
from rag.types import Article
from tests.conftest import SEED_ID, SEEDS

V1 = Article(id="contested", title="Harbour deal", source="wire", published_at="2025-04-01",
             text="The Glimmerwick harbour signed a ferry deal with Tallinn.\n\n" * 3)
V2 = V1.model_copy(update={"text": "The Glimmerwick harbour cancelled the ferry deal. " * 40 +
                           "\n\nOfficials blamed Vostrakel fuel prices for the decision."})


def lexical(pipeline: Pipeline, query: str) -> list[str]:
    params = replace(pipeline.retriever.params, method="lexical")
    return [c.article_id for c in pipeline.retrieve(query, 10, params=params)]


def assert_consistent(pipeline: Pipeline, article_id: str) -> dict:  # type: ignore[type-arg]
    pipeline.index.sync()
    state = pipeline.index.consistency(article_id)
    assert state["ok"], state
    return state


def hammer(workers: list[Pipeline], n: int = 64) -> list[BaseException]:
    """n threads on one id: POST v1, POST v2, DELETE, ask, in a shuffled order, spread over the workers."""
    actions = [lambda p: p.ingest([V1]), lambda p: p.ingest([V2]), lambda p: p.delete_article(V1.id),
               lambda p: p.ask("What did the Glimmerwick harbour sign?", mode="extractive")] * (n // 4)
    random.Random(7).shuffle(actions)
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        start.wait()
        try:
            actions[i](workers[i % len(workers)])
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_64_concurrent_writes_deletes_and_asks_on_one_id_leave_it_consistent_embedded(embedded_pipeline):
    assert hammer([embedded_pipeline]) == []
    assert_consistent(embedded_pipeline, V1.id)
    embedded_pipeline.delete_article(V1.id)  # and a delete after the storm leaves nothing behind
    assert_consistent(embedded_pipeline, V1.id)
    assert lexical(embedded_pipeline, "Glimmerwick") == []


def test_64_concurrent_writes_on_one_id_over_two_workers_of_a_chroma_server(chroma_url, tmp_path, embedder):
    settings = Settings(chroma_url=chroma_url, collection_prefix="storm", data_dir=tmp_path / "host")
    workers = [Pipeline(settings, embedder=embedder), Pipeline(settings, embedder=embedder)]  # one host, one file
    other_host = Pipeline(settings.model_copy(update={"data_dir": tmp_path / "other"}), embedder=embedder)
    other_host.index.sync()
    assert hammer(workers) == []
    for p in [*workers, other_host]:
        assert_consistent(p, V1.id)
    workers[0].ingest([V2])
    for p in [*workers, other_host]:
        assert assert_consistent(p, V1.id)["bm25_rows"] > 0
        assert lexical(p, "Vostrakel") == [V1.id]
    workers[1].delete_article(V1.id)
    for p in [*workers, other_host]:
        assert_consistent(p, V1.id)
        assert lexical(p, "Vostrakel") == []  # no ghost rows on any replica


def test_a_record_whose_chunks_are_gone_is_not_unchanged(embedded_pipeline):
    embedded_pipeline.ingest([V1])
    embedded_pipeline.store.chunks.delete(where={"article_id": V1.id})  # lost behind the record's back
    report = embedded_pipeline.ingest([V1])
    assert report.results[0][1] == "updated"  # re-written, not trusted as unchanged
    assert assert_consistent(embedded_pipeline, V1.id)["chunks"] > 0


def test_another_replica_follows_an_edit_that_drops_fields_and_a_delete_through_the_feed(tmp_path, embedder):
    writer = Pipeline(Settings(data_dir=tmp_path / "store"), embedder=embedder)
    replica = Pipeline(Settings(data_dir=tmp_path / "store", lexical_dir=tmp_path / "replica"), embedder=embedder)
    writer.ingest([V1.model_copy(update={"url": "https://example.org/harbour"})])
    replica.index.sync()
    assert replica.index.lexical.infos({V1.id})[V1.id].url == "https://example.org/harbour"
    writer.ingest([V2.model_copy(update={"source": None})])  # the edit has no url and no source
    assert replica.index.sync() == 1
    held = replica.index.lexical.infos({V1.id})[V1.id]
    stored = writer.get_article(V1.id)
    assert stored is not None
    assert (held.url, held.source, stored[0].url, stored[0].source) == (None, None, None, None)  # none kept
    assert lexical(replica, "Vostrakel") == [V1.id]
    writer.delete_article(V1.id)
    assert replica.index.sync() == 1
    assert lexical(replica, "Vostrakel") == [] and replica.index.consistency(V1.id)["ok"]


def test_chunks_do_not_carry_the_article_fields(embedded_pipeline):
    embedded_pipeline.ingest([V2])
    meta = embedded_pipeline.store.chunks.get(where={"article_id": V2.id}, include=["metadatas"])["metadatas"]
    assert meta and all("title" not in m and "url" not in m and "published_at" not in m for m in meta)
    hit = embedded_pipeline.retrieve("Vostrakel fuel prices", 1)[0]
    assert (hit.title, hit.published_at, hit.source) == (V2.title, V2.published_at, V2.source)  # looked up


def _disk(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _grown(tmp_path: Path, embedder, article: Article) -> int:  # type: ignore[no-untyped-def]
    """Bytes on disk (Chroma and BM25) that one article adds to a store."""
    store = tmp_path / article.title[:8]
    pipeline = Pipeline(Settings(data_dir=store), embedder=embedder)
    pipeline.ingest([Article(id="warm", title="Warm", text="A first article so the store exists.")])
    pipeline.index.sync()
    before = _disk(store)
    pipeline.ingest([article])
    pipeline.index.sync()
    pipeline.index.lexical.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return _disk(store) - before


def test_disk_per_article_grows_with_its_text_not_with_title_times_chunks(tmp_path, embedder):
    """Issue 16's recipe at the caps: the same news text under a short and a 1,000-character title.
    Before, the title was copied into every chunk's metadata and BM25 row (x963 on disk)."""
    text = (SEEDS / SEED_ID).read_text(encoding="utf-8") * 3
    short = Article(id="news", title="Short", text=text)
    long_ = Article(id="news", title="L" * FIELD_LIMITS["title"], text=text)
    grown_short, grown_long = _grown(tmp_path, embedder, short), _grown(tmp_path, embedder, long_)
    size = len(long_.model_dump_json().encode())
    print(f"disk per article byte: {grown_long / size:.2f} (short title {grown_short / size:.2f}), {size} bytes")
    assert grown_long - grown_short < 0.5 * grown_short  # the title is stored per article, not per chunk


def test_a_lease_is_exclusive_until_released_and_a_dead_writers_lease_is_taken_over(tmp_path):
    import os
    import socket
    import subprocess
    import time

    from rag.errors import StoreBusy
    from rag.store import ChunkStore, open_client

    store = ChunkStore(lambda: open_client(tmp_path / "s", None), "leases", lease_wait_s=0.5)
    other = ChunkStore(lambda: open_client(tmp_path / "s", None), "leases", lease_wait_s=0.5)
    other.__dict__["client"] = store.client  # one embedded client per path and process
    with store.lease(["a"]), pytest.raises(StoreBusy, match="'a'"), other.lease(["a", "b"]):
        pass
    store.lease_wait_s = other.lease_wait_s = 30.0  # from here on nothing should wait (a slow CPU aside)
    with other.lease(["a", "b"]):  # released: free again, all or none
        pass
    gone = subprocess.Popen(["true"])
    gone.wait()
    store.leases.add(ids=["a"], embeddings=[[1.0]], metadatas=[{
        "owner": "killed", "expires": time.time() + 600, "host": socket.gethostname(), "pid": gone.pid}])
    with store.lease(["a"]):
        assert store.leases.get(ids=["a"])["metadatas"][0]["pid"] == os.getpid()
