"""Settings, read from RAG_* environment variables. Only entry points call get_settings()."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    data_dir: Path = Field(Path(".rag"), description="Where the embedded Chroma store lives.")
    chroma_url: str | None = Field(None, description="Use a `chroma run` server instead.")
    collection_prefix: str = "rag"

    encoding: str = "cl100k_base"
    chunk_tokens: int = Field(160, ge=16, le=2048)
    chunk_overlap: int = Field(32, ge=0, le=512)
    chunk_min_tokens: int = Field(160, ge=1, le=2048, description="End a chunk at the next paragraph end past this.")

    embedder: str = Field("local", pattern="^(local|openai)$")
    openai_embedding_model: str = "text-embedding-3-small"
    embed_threads: int | None = Field(None, ge=1, le=64, description="onnxruntime threads; default min(2, cores).")

    top_k: int = Field(8, ge=1, le=50)
    retrieval: str = Field("hybrid", pattern="^(dense|lexical|hybrid)$")
    hybrid_fusion: str = Field("weighted", pattern="^(weighted|rrf)$")
    hybrid_alpha: float = Field(0.8, ge=0, le=1, description="Weighted fusion: share of the dense score.")
    mmr_lambda: float = Field(1.0, ge=0, le=1, description="1 = no diversification.")
    time_aware: bool = Field(True, description="Use when a question is asked (as_of) and its time cue in ranking; "
                                               "off: dates are ignored unless --since/--until say so.")
    lexical_dir: Path | None = Field(None, description="Where the BM25 index lives; default DATA_DIR/lexical.")

    # LLM answers: on when RAG_LLM_MODEL is set (mode auto). Any OpenAI-compatible server.
    llm_model: str | None = Field(None, description="Model name; setting it turns LLM answers on.")
    llm_base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8080/v1; unset means OpenAI.")
    llm_api_key: SecretStr | None = Field(None, description="Falls back to OPENAI_API_KEY.")
    llm_deadline_s: float = Field(60.0, gt=0, le=600, description="One deadline per answer, retries included.")
    llm_timeout_s: float = Field(20.0, gt=0, le=600, description="Per request (never past the deadline).")
    llm_max_retries: int = Field(2, ge=0, le=10)
    llm_max_tokens: int = Field(800, ge=16, le=32768, description="Longest reply asked for.")
    llm_context_tokens: int = Field(3000, ge=200, le=200_000, description="Budget for the numbered sources.")
    llm_whole_article_tokens: int = Field(1500, ge=0, description="Articles this short are sent whole.")
    llm_history_turns: int = Field(6, ge=0, le=50, description="Chat messages kept for follow-ups.")

    # HTTP API
    api_keys: SecretStr | None = Field(None, description="Comma-separated bearer keys; unset = no auth.")
    api_max_body_bytes: int = Field(10_000_000, ge=1024, description="Larger request bodies get 413.")
    api_max_batch: int = Field(1000, ge=1, description="Articles per POST /v1/articles.")
    max_file_bytes: int = Field(5_000_000, ge=1)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
