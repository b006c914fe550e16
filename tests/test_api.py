import pytest
from fastapi.testclient import TestClient

from rag.loaders import load_paths
from rag_api.main import create_app
from tests.conftest import SEED_QUESTION, SEEDS


@pytest.fixture
def client(embedded_pipeline):
    embedded_pipeline.ingest(load_paths([SEEDS], 10**7).articles)
    return TestClient(create_app(embedded_pipeline))


def test_ask_returns_the_cli_json_shape_with_exact_quotes(client, embedded_pipeline):
    response = client.post("/v1/ask", json={"question": SEED_QUESTION})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"question", "answer", "refused", "mode", "citations", "retrieved", "verification",
                         "unsupported", "notice", "standalone_question"}
    _, text = embedded_pipeline.store.get_article(body["citations"][0]["article_id"])
    assert all(text[c["start"]:c["end"]] == c["quote"] for c in body["citations"])


@pytest.mark.parametrize("payload", [
    {"question": ""}, {"question": "   "}, {"question": "x" * 5000}, {"question": "q", "top_k": 0},
    {"question": "q", "mode": "psychic"}, {"question": "q", "filters": {"since": "May"}}, {"q": "x"},
])
def test_bad_requests_get_a_4xx_that_says_what_is_wrong(client, payload):
    response = client.post("/v1/ask", json=payload)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_malformed_json_is_a_4xx(client):
    response = client.post("/v1/ask", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert client.get("/healthz").json() == {"status": "ok"}
