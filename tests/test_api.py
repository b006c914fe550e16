"""The HTTP API through TestClient: routes, streaming, auth, and a clear 4xx for every bad input."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from rag.config import Settings
from rag.pipeline import Pipeline
from rag_api.main import create_app
from tests.conftest import SEED_ID, SEED_QUESTION

ANSWER_KEYS = {"question", "answer", "refused", "mode", "citations", "retrieved", "verification", "unsupported",
               "unsupported_reasons", "notice", "standalone_question", "as_of", "usage", "confidence"}


@pytest.fixture
def seeded(seeded_dir, minilm):  # type: ignore[no-untyped-def]
    """A client over the session's seeded store (read-only tests)."""
    return TestClient(create_app(Pipeline(Settings(data_dir=seeded_dir), embedder=minilm)))


@pytest.fixture
def fresh(embedded_pipeline):  # type: ignore[no-untyped-def]
    """A client over an empty store of its own."""
    return TestClient(create_app(embedded_pipeline))


def sse_events(text: str) -> list[tuple[str | None, str]]:
    events = []
    for block in text.strip().split("\n\n"):
        name = next((line[7:] for line in block.splitlines() if line.startswith("event: ")), None)
        data = "\n".join(line[6:] for line in block.splitlines() if line.startswith("data: "))
        events.append((name, data))
    return events


def test_ask_returns_the_cli_json_shape_with_exact_quotes(seeded):
    response = seeded.post("/v1/ask", json={"question": SEED_QUESTION})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == ANSWER_KEYS
    text = seeded.get(f"/v1/articles/{SEED_ID}").json()["text"]
    assert body["citations"] and all(text[c["start"]:c["end"]] == c["quote"] for c in body["citations"])


@pytest.mark.parametrize("how", [{"json": {"question": SEED_QUESTION, "stream": True}},
                                 {"json": {"question": SEED_QUESTION}, "headers": {"accept": "text/event-stream"}}])
def test_ask_streams_tokens_then_one_final_answer(seeded, how):
    response = seeded.post("/v1/ask", **how)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert [name for name, _ in events][-1] == "final" and {n for n, _ in events[:-1]} == {"token"}
    final = json.loads(events[-1][1])
    assert "".join(json.loads(d)["text"] for _, d in events[:-1]) == final["answer"]
    assert final["citations"]


def test_ask_in_llm_mode_streams_from_the_llm(seeded_dir, minilm, fake_llm):
    settings = Settings(data_dir=seeded_dir, llm_model="fake-model", llm_base_url=fake_llm.url,
                        llm_citations="quotes")
    client = TestClient(create_app(Pipeline(settings, embedder=minilm)))
    fake_llm.enqueue('QUOTES:\n[1] (source 1) "Belarusian agricultural machinery is widely used in the fields '
                     'of the Russian region."\nANSWER:\nBelarusian machinery is widely used in the region [1].')
    events = sse_events(client.post("/v1/ask", json={"question": SEED_QUESTION, "stream": True}).text)
    final = json.loads(events[-1][1])
    assert final["mode"] == "llm" and final["citations"][0]["kind"] == "verbatim"
    assert len(events) > 3  # the answer arrived in pieces


def test_llm_mode_without_configuration_is_a_400_naming_the_variable(seeded):
    response = seeded.post("/v1/ask", json={"question": SEED_QUESTION, "mode": "llm"})
    assert response.status_code == 400 and "RAG_LLM_MODEL" in response.json()["detail"]


@pytest.mark.parametrize("payload, where", [
    ({"question": ""}, "question"), ({"question": "   "}, "question"), ({"question": "x" * 5000}, "question"),
    ({"question": "q", "top_k": 0}, "top_k"), ({"question": "q", "top_k": 51}, "top_k"),
    ({"question": "q", "mode": "psychic"}, "mode"), ({"question": "q", "filters": {"since": "May"}}, "since"),
    ({"q": "x"}, "question"), ({"question": 7}, "question"),
])
def test_bad_requests_get_a_4xx_that_says_what_is_wrong(seeded, payload, where):
    response = seeded.post("/v1/ask", json=payload)
    assert response.status_code == 422
    body = response.json()
    assert where in body["detail"] and body["error"]["message"] == body["detail"]


def test_malformed_json_and_oversized_bodies_are_4xx(seeded_dir, minilm):
    client = TestClient(create_app(Pipeline(Settings(data_dir=seeded_dir, api_max_body_bytes=2048),
                                            embedder=minilm)))
    bad = client.post("/v1/ask", content=b"{nope", headers={"content-type": "application/json"})
    assert bad.status_code == 422 and "malformed JSON" in bad.json()["detail"]
    big = client.post("/v1/articles", json={"text": "word " * 1000})
    assert big.status_code == 413 and "RAG_API_MAX_BODY_BYTES" in big.json()["detail"]

    def chunked():  # no content-length: counted as it arrives
        yield b'{"text": "' + b"w" * 4096 + b'"}'
    json_type = {"content-type": "application/json"}
    assert client.post("/v1/articles", content=chunked(), headers=json_type).status_code == 413
    assert client.get("/healthz").json() == {"status": "ok"}


def test_articles_crud_with_per_record_results(fresh):
    batch = {"articles": [
        {"id": "a1", "title": "Milk", "text": "Minsk will build a milk plant in Omsk. It opens in 2026.",
         "published_at": "2025-03-01", "source": "wire"},
        {"url": "https://example.org/news/2", "text": "Tractors from Belarus reached Kenya this spring."},
        {"id": "bad", "text": ""},
        {"id": "a1", "text": "a duplicate in the same request"},
        ["not", "an", "object"],
    ]}
    response = fresh.post("/v1/articles", json=batch)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["added", "added", "error", "error", "error"]
    assert results[2]["id"] == "bad" and "empty" in results[2]["detail"]
    assert "duplicate" in results[3]["detail"] and results[4]["id"] == "articles[4]"
    assert response.json()["counts"] == {"added": 2, "updated": 0, "unchanged": 0, "error": 3}

    again = fresh.post("/v1/articles", json={"id": "a1", "title": "Milk", "source": "wire",
                                             "published_at": "2025-03-01",
                                             "text": "Minsk will build a milk plant in Omsk. It opens in 2026."})
    assert again.json()["results"][0]["status"] == "unchanged"
    changed = fresh.post("/v1/articles", json=[{"id": "a1", "text": "Minsk will build two milk plants in Omsk."}])
    assert changed.json()["results"][0]["status"] == "updated"

    page = fresh.get("/v1/articles", params={"limit": 1}).json()
    assert page["total"] == 2 and len(page["articles"]) == 1
    by_url = fresh.get("/v1/articles/https://example.org/news/2")
    assert by_url.status_code == 200 and by_url.json()["text"].startswith("Tractors from Belarus")
    assert fresh.delete("/v1/articles/a1").json() == {"deleted": "a1"}
    assert fresh.delete("/v1/articles/a1").status_code == 404
    missing = fresh.get("/v1/articles/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


@pytest.mark.parametrize("body", [[{"id": "x", "text": " "}], "just a string", {"articles": [{"title": "t"}]}])
def test_a_request_with_no_good_article_is_a_422(fresh, body):
    response = fresh.post("/v1/articles", json=body)
    assert response.status_code == 422 and response.json()["detail"]


def test_an_over_long_field_is_a_422_naming_it(fresh):
    """Issue 16's recipe: a 100 KB title (it used to be copied into every chunk: x963 on disk)."""
    response = fresh.post("/v1/articles", json={"id": "big", "title": "T" * 100_000, "text": "Some news."})
    assert response.status_code == 422 and "'title'" in response.json()["detail"]


def test_too_many_articles_in_one_request_is_a_413(embedded_pipeline):
    settings = embedded_pipeline.settings.model_copy(update={"api_max_batch": 2})
    client = TestClient(create_app(embedded_pipeline, settings))
    response = client.post("/v1/articles", json=[{"id": str(i), "text": "x y z"} for i in range(3)])
    assert response.status_code == 413 and "RAG_API_MAX_BATCH" in response.json()["detail"]


def test_search_returns_scored_chunks_and_checks_its_query(seeded):
    found = seeded.get("/v1/search", params={"q": "milk processing plant", "k": 3}).json()
    assert len(found["results"]) == 3 and "milk" in found["results"][0]["text"].lower()
    assert found["results"][0]["score"] >= found["results"][1]["score"]
    assert seeded.get("/v1/search", params={"q": ""}).status_code == 422
    assert seeded.get("/v1/search", params={"q": "x", "k": 99}).status_code == 422


def test_api_keys_guard_v1_routes_but_not_health(seeded_dir, minilm):
    settings = Settings(data_dir=seeded_dir, api_keys="key-one, key-two")
    client = TestClient(create_app(Pipeline(settings, embedder=minilm)))
    assert client.get("/healthz").status_code == 200
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Basic key-one"}):
        response = client.get("/v1/models", headers=headers)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/models", headers={"authorization": "Bearer key-two"}).status_code == 200
    asked = client.post("/v1/ask", json={"question": SEED_QUESTION}, headers={"authorization": "Bearer key-one"})
    assert asked.status_code == 200


def test_readyz_checks_the_embedder_the_store_and_the_llm(seeded_dir, minilm, fake_llm):
    ready = TestClient(create_app(Pipeline(Settings(data_dir=seeded_dir), embedder=minilm))).get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["store"] == "ok"
    with_llm = Settings(data_dir=seeded_dir, llm_model="fake-model", llm_base_url=fake_llm.url)
    assert TestClient(create_app(Pipeline(with_llm, embedder=minilm))).get("/readyz").json()["checks"]["llm"] == "ok"
    gone = with_llm.model_copy(update={"llm_base_url": "http://127.0.0.1:9/v1"})
    down = TestClient(create_app(Pipeline(gone, embedder=minilm))).get("/readyz")
    assert down.status_code == 503 and down.json()["checks"]["llm"] == "unreachable"


def test_chat_completions_carry_the_answer_sources_and_citations(seeded):
    body = {"model": "rag-news", "temperature": 0.2,
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": SEED_QUESTION}]}
    reply = seeded.post("/v1/chat/completions", json=body).json()
    message = reply["choices"][0]["message"]["content"]
    assert "[1]" in message and "\n\nSources:\n[1] “" in message
    assert reply["citations"][0]["quote"] in message and reply["rag"]["mode"] == "extractive"
    assert {m["id"] for m in seeded.get("/v1/models").json()["data"]} >= {"rag-news"}
    assert seeded.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "x"}]}
                       ).status_code == 422
    assert seeded.post("/v1/chat/completions", json={"messages": []}).status_code == 422


def test_openapi_document_has_examples(seeded):
    spec = seeded.get("/openapi.json").json()
    assert {"/v1/ask", "/v1/articles", "/v1/articles/{article_id}", "/v1/search", "/v1/chat/completions",
            "/v1/models", "/healthz", "/readyz"} <= set(spec["paths"])
    assert spec["components"]["schemas"]["AskIn"]["examples"][0]["question"] == SEED_QUESTION
    assert "examples" in spec["paths"]["/v1/articles"]["post"]["requestBody"]["content"]["application/json"]
    refs = {m.split("/")[-1] for m in re.findall(r'"\$ref": "([^"]+)"', json.dumps(spec))}
    assert refs <= set(spec["components"]["schemas"])  # no dangling references
