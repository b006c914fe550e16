"""Settings (rag.config): the one door to the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rag.config import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "RAG_LLM_API_KEY", "RAG_EMBEDDING_API_KEY", "RAG_EMBEDDING_BASE_URL",
                 "RAG_RETRIEVAL", "RAG_EMBEDDER", "RAG_HYBRID_FUSION"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("env, llm_key, embedding_key", [
    ({}, None, None),
    ({"OPENAI_API_KEY": "o"}, "o", "o"),
    ({"OPENAI_API_KEY": "o", "RAG_LLM_API_KEY": "l"}, "l", "o"),
    ({"OPENAI_API_KEY": "o", "RAG_EMBEDDING_API_KEY": "e"}, "o", "e"),
], ids=["none", "openai-fallback", "llm-key-wins", "embedding-key-wins"])
def test_keys_fall_back_to_openai_api_key(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                          llm_key: str | None, embedding_key: str | None) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s = Settings()
    assert (s.llm_api_key.get_secret_value() if s.llm_api_key else None) == llm_key
    assert (s.embedding_api_key.get_secret_value() if s.embedding_api_key else None) == embedding_key


def test_fields_are_also_set_by_name() -> None:
    s = Settings(llm_api_key="k", embedding_base_url="http://127.0.0.1:9/v1")
    assert s.llm_api_key is not None and s.llm_api_key.get_secret_value() == "k"
    assert s.embedding_base_url == "http://127.0.0.1:9/v1"


@pytest.mark.parametrize("name, value", [("RAG_RETRIEVAL", "semantic"), ("RAG_EMBEDDER", "bert"),
                                         ("RAG_HYBRID_FUSION", "sum")])
def test_a_choice_outside_the_literal_is_rejected(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("RAG_").lower()):
        Settings()
