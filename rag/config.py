"""Settings, read from RAG_* environment variables. Only entry points call get_settings()."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
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

    top_k: int = Field(8, ge=1, le=50)
    max_file_bytes: int = Field(5_000_000, ge=1)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
