"""The API as deployed: `rag serve` processes on loopback, the official `openai` client, and two
workers sharing one `chroma run` server."""

from __future__ import annotations

import time

import httpx
import pytest
from openai import OpenAI

from rag.loaders import load_paths
from tests.conftest import SEED_QUESTION, SEEDS, serving


def seed_records() -> list[dict[str, str | None]]:
    return [a.model_dump() for a in load_paths([SEEDS], 10**7).articles]


def test_the_official_openai_client_talks_to_rag_serve(tmp_path):
    env = {"RAG_DATA_DIR": str(tmp_path / "store"), "RAG_API_KEYS": "secret-key"}
    with serving(env) as url:
        added = httpx.post(f"{url}/v1/articles", json=seed_records(), headers={"authorization": "Bearer secret-key"},
                           timeout=60)
        assert added.json()["counts"]["added"] == 1
        client = OpenAI(base_url=f"{url}/v1", api_key="secret-key", max_retries=0)
        assert "rag-news" in {m.id for m in client.models.list()}

        reply = client.chat.completions.create(model="rag-news", messages=[{"role": "user", "content": SEED_QUESTION}])
        content = reply.choices[0].message.content
        citations = reply.model_extra["citations"]
        assert "Sources:" in content and citations and citations[0]["quote"] in content

        pieces, last = [], None
        for chunk in client.chat.completions.create(model="rag-news", stream=True,
                                                    messages=[{"role": "user", "content": SEED_QUESTION}]):
            pieces.append(chunk.choices[0].delta.content or "")
            last = chunk
        assert "".join(pieces) == content
        assert last.choices[0].finish_reason == "stop" and last.model_extra["citations"] == citations

        wrong = OpenAI(base_url=f"{url}/v1", api_key="nope", max_retries=0)
        with pytest.raises(Exception, match="401"):
            wrong.models.list()


def test_an_article_ingested_through_one_worker_is_answered_by_another(tmp_path, chroma_url):
    env = {"RAG_CHROMA_URL": chroma_url, "RAG_COLLECTION_PREFIX": f"w{time.monotonic_ns()}",
           "RAG_DATA_DIR": str(tmp_path / "unused")}
    article = {"id": "kenya-tractors", "title": "Belarus ships tractors to Kenya", "published_at": "2025-06-01",
               "text": "Belarus shipped 300 tractors to Kenya in May. The Minsk Tractor Works said the "
                       "batch included 40 combine harvesters for the Rift Valley."}
    with serving(env) as first, serving(env) as second:
        assert httpx.post(f"{first}/v1/articles", json=article, timeout=60).json()["counts"]["added"] == 1
        answer = httpx.post(f"{second}/v1/ask", json={"question": "How many tractors did Belarus ship to Kenya?"},
                            timeout=60).json()
        assert not answer["refused"] and answer["citations"][0]["article_id"] == "kenya-tractors"
        assert "300 tractors" in answer["answer"]
        assert httpx.delete(f"{second}/v1/articles/kenya-tractors", timeout=60).status_code == 200
        assert httpx.get(f"{first}/v1/articles/kenya-tractors", timeout=60).status_code == 404
        assert httpx.get(f"{first}/readyz", timeout=60).json()["checks"]["store"] == "ok"
