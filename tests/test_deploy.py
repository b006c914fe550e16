"""docs/DEPLOY.md as a test: one `chroma run` server, two `rag serve` replicas each with its own
BM25 cache, and a writer on loopback. An article written through replica A is found lexically
through replica B within the documented staleness (RAG_SYNC_STALENESS_S), and a delete
vanishes from both."""

from __future__ import annotations

import time

import httpx

from tests.conftest import serving

STALENESS_S = 1.0
SLACK_S = 10.0  # loopback and a shared CPU: the bound asserted is staleness plus this


def lexical_hits(url: str, word: str) -> list[str]:
    found = httpx.get(f"{url}/v1/search", params={"q": word, "k": 5}, timeout=60).json()["results"]
    return [r["article_id"] for r in found if r.get("lexical_rank") is not None]


def wait_for(check, limit_s: float) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > limit_s:
            raise AssertionError(f"not within {limit_s} s")
        time.sleep(0.1)
    return time.monotonic() - started


def test_two_replicas_and_a_writer_on_one_chroma_server(tmp_path, chroma_url):
    common = {"RAG_CHROMA_URL": chroma_url, "RAG_COLLECTION_PREFIX": f"d{time.monotonic_ns()}",
              "RAG_SYNC_STALENESS_S": str(STALENESS_S)}
    article = {"id": "ferry", "title": "Ferry line reopens", "published_at": "2025-06-01",
               "text": "The Quillmarsh ferry line reopened on Monday after a two-year pause. "
                       "Operators expect 900 passengers a day on the Kvarken crossing."}
    with serving(common | {"RAG_DATA_DIR": str(tmp_path / "a")}) as a, \
            serving(common | {"RAG_DATA_DIR": str(tmp_path / "b")}) as b:
        assert httpx.get(f"{b}/readyz", timeout=60).json()["checks"]["lexical"].startswith("ok")
        assert lexical_hits(b, "Quillmarsh") == []
        assert httpx.post(f"{a}/v1/articles", json=article, timeout=60).json()["counts"]["added"] == 1
        assert lexical_hits(a, "Quillmarsh") == ["ferry"]  # the writer's own replica: at once
        seen_after = wait_for(lambda: lexical_hits(b, "Quillmarsh") == ["ferry"], STALENESS_S + SLACK_S)
        print(f"visible on replica B after {seen_after:.2f} s")
        edited = article | {"text": "The Quillmarsh ferry line closed again on Friday, citing Brelvane ice."}
        assert httpx.post(f"{a}/v1/articles", json=edited, timeout=60).json()["counts"]["updated"] == 1
        wait_for(lambda: lexical_hits(b, "Brelvane") == ["ferry"], STALENESS_S + SLACK_S)
        assert lexical_hits(b, "Kvarken") == []  # the old version's rows are gone from B too
        assert httpx.delete(f"{a}/v1/articles/ferry", timeout=60).status_code == 200
        assert lexical_hits(a, "Quillmarsh") == []
        wait_for(lambda: lexical_hits(b, "Quillmarsh") == [], STALENESS_S + SLACK_S)
        assert httpx.get(f"{b}/v1/articles/ferry", timeout=60).status_code == 404
