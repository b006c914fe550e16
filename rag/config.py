"""Settings, read from RAG_* environment variables: the only module that reads the environment.

Entry points (the CLI's `load_settings`, the API's `create_app`) build one `Settings()`; everything
else gets it passed in. Choices are `Literal` types, so a typo fails here, naming the variable.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag import tuning  # the measured defaults

Mode = Literal["auto", "extractive", "llm"]  # auto: the LLM when RAG_LLM_MODEL is set
AnswerMode = Literal["extractive", "llm"]  # what `auto` resolves to
RetrievalMethod = Literal["dense", "lexical", "hybrid"]
Fusion = Literal["weighted", "rrf"]
EmbedderName = Literal["local", "openai"]
LocalModel = Literal["minilm", "multilingual-e5-small"]  # RAG_EMBED_MODEL (rag/embedding.py LOCAL_MODELS)
E5_CHUNK_TOKENS = 400  # chunk size (tiktoken) for multilingual-e5-small unless set


def _env(name: str, *fallbacks: str) -> AliasChoices:
    """RAG_<name>, then the fallbacks (the first one set wins)."""
    return AliasChoices(f"RAG_{name.upper()}", *fallbacks)


class Settings(BaseSettings):
    # populate_by_name: `Settings(llm_api_key=...)` works beside the environment aliases.
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(Path(".rag"), description="Where the embedded Chroma store lives.")
    chroma_url: str | None = Field(None, description="Use a `chroma run` server instead.")
    collection_prefix: str = "rag"

    encoding: str = "cl100k_base"
    chunk_tokens: int = Field(160, ge=16, le=2048)
    chunk_overlap: int = Field(32, ge=0, le=512)
    chunk_min_tokens: int = Field(160, ge=1, le=2048, description="End a chunk at the next paragraph end past this.")

    embedder: EmbedderName = "local"
    embed_model: LocalModel = Field("minilm", description="The local model: minilm (English, fast) or "
                                    "multilingual-e5-small (any language; pip extra `multilingual`).")
    openai_embedding_model: str = "text-embedding-3-small"
    embedding_api_key: SecretStr | None = Field(None, validation_alias=_env("embedding_api_key", "OPENAI_API_KEY"),
                                                description="For RAG_EMBEDDER=openai; falls back to OPENAI_API_KEY.")
    embedding_base_url: str | None = Field(None, validation_alias=_env("embedding_base_url"),
                                           description="OpenAI-compatible embeddings server; unset means OpenAI.")
    embed_threads: int | None = Field(None, ge=1, le=64, description="Local model threads; default min(2, cores).")

    top_k: int = Field(tuning.TOP_K, ge=1, le=50)
    min_confidence: float = Field(tuning.MIN_CONFIDENCE, ge=0, le=1,
                                  description="Refuse an answer whose confidence (the probability it is right) "
                                  "is below this; 0 never refuses on confidence.")
    retrieval: RetrievalMethod = "hybrid"
    hybrid_fusion: Fusion = "weighted"
    hybrid_alpha: float = Field(tuning.HYBRID_ALPHA, ge=0, le=1,
                                description="Weighted fusion: share of the dense score.")
    mmr_lambda: float = Field(tuning.MMR_LAMBDA, ge=0, le=1, description="1 = no diversification.")
    time_aware: bool = Field(True, description="Use when a question is asked (as_of) and its time cue in ranking; "
                                               "off: dates are ignored unless --since/--until say so.")
    lexical_dir: Path | None = Field(None, description="Where the BM25 index lives; default DATA_DIR/lexical.")
    # Replicas (docs/DEPLOY.md): how the BM25 cache follows the store's change feed.
    sync_staleness_s: float = Field(1.0, ge=0, le=3600, description="Longest a replica's BM25 index lags the store.")
    sync_skew_s: float = Field(30.0, ge=0, le=3600, description="Clock skew between writer hosts that is tolerated.")
    full_check_s: float = Field(3600.0, ge=10, description="How often a replica checks its whole index.")
    write_lease_s: float = Field(60.0, ge=1, le=3600, description="A writer that holds an article longer has died.")

    # LLM answers: on when RAG_LLM_MODEL is set (mode auto). Any OpenAI-compatible server.
    llm_model: str | None = Field(None, description="Model name; setting it turns LLM answers on.")
    llm_base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8080/v1; unset means OpenAI.")
    llm_api_key: SecretStr | None = Field(None, validation_alias=_env("llm_api_key", "OPENAI_API_KEY"),
                                          description="Falls back to OPENAI_API_KEY.")
    llm_deadline_s: float = Field(60.0, gt=0, le=600, description="One deadline per answer, retries included.")
    llm_cache: Path | None = Field(None, description="SQLite file of the model's replies by model and messages "
                                   "(rag/llm_cache.py): a reply asked before is not asked again.")
    llm_timeout_s: float = Field(20.0, gt=0, le=600, description="Per request (never past the deadline).")
    llm_max_retries: int = Field(2, ge=0, le=10)
    llm_max_tokens: int = Field(800, ge=16, le=32768, description="Longest reply asked for (quotes mode).")
    llm_citations: str = Field("sentences", pattern="^(sentences|quotes)$",
                               description="sentences: the model cites numbered sentences; quotes: it copies them.")
    llm_context: Literal["extract", "articles"] = Field(
        "extract", description="Sentences mode: what the model reads: the extractive answer's sentences and "
        "their neighbours (extract-then-compose), or the articles it quotes.")
    llm_neighbours: int = Field(tuning.LLM_NEIGHBOURS, ge=0, le=20,
                                description="extract: sentences either side of each chosen one.")
    llm_answer_tokens: int = Field(tuning.LLM_ANSWER_TOKENS, ge=16, le=32768,
                                   description="Longest reply asked for in sentences mode (no quotes to copy).")
    llm_context_tokens: int = Field(tuning.LLM_CONTEXT_TOKENS, ge=200, le=200_000,
                                    description="Budget for the numbered sources.")
    llm_whole_article_tokens: int = Field(tuning.LLM_WHOLE_ARTICLE_TOKENS, ge=0,
                                          description="Articles this short are sent whole.")
    llm_source_margin: float = Field(tuning.LLM_SOURCE_MARGIN, ge=0, le=1,
                                     description="Sentences mode: send the articles whose best "
                                     "chunk scores within this of the best one ...")
    llm_source_articles: int = Field(tuning.LLM_SOURCE_ARTICLES, ge=0, le=50,
                                     description="... at most this many (0: no limit).")
    llm_evidence_gate: bool = Field(True, description="Refuse without asking the model when the evidence "
                                    "model refuses (docs/design.md, issue 15).")
    llm_history_turns: int = Field(6, ge=0, le=50, description="Chat messages kept for follow-ups.")

    # HTTP API
    api_keys: SecretStr | None = Field(None, description="Comma-separated bearer keys; unset = no auth.")
    api_max_body_bytes: int = Field(10_000_000, ge=1024, description="Larger request bodies get 413.")
    api_max_batch: int = Field(1000, ge=1, description="Articles per POST /v1/articles.")
    max_file_bytes: int = Field(5_000_000, ge=1)
    # Browser and slow-client safety (issue 16); see docs/RELIABILITY.md.
    api_allowed_hosts: str | None = Field(None, description="Comma-separated Host names the API answers to "
                                          "(DNS-rebinding guard); `*` = any. `rag serve` adds its --host "
                                          "and the loopback names.")
    api_bound_host: str | None = Field(None, description="Set by `rag serve` to its --host.")
    api_read_timeout_s: float = Field(15.0, gt=0, le=600, description="A request's headers, and its body, "
                                      "must arrive within this; slower clients are cut (408 / closed).")
    api_max_connections: int = Field(200, ge=1, description="Open connections + requests before new ones "
                                     "get 503 (uvicorn limit_concurrency).")

    # Fetching URLs and feeds (rag ingest URL, rag feeds, rag watch): see README "Politeness".
    fetch_user_agent: str = Field("rag-news/0.1 (feed reader for a news question-answering index; "
                                  "conditional GETs; respects robots.txt)", min_length=8)
    fetch_timeout_s: float = Field(15.0, gt=0, le=300, description="Per request: connect, read, write.")
    fetch_max_bytes: int = Field(5_000_000, ge=1024, description="Larger feeds and pages are refused.")
    fetch_retries: int = Field(2, ge=0, le=10, description="Retries after a timeout, dead connection, 429 or 5xx.")
    fetch_backoff_s: float = Field(1.0, ge=0, le=60, description="First retry wait; doubles each retry.")
    fetch_max_redirects: int = Field(5, ge=0, le=30)
    fetch_host_delay_s: float = Field(1.0, ge=0, le=300, description="Pause between requests to one host.")
    fetch_host_concurrency: int = Field(2, ge=1, le=16, description="Requests in flight to one host.")
    fetch_workers: int = Field(8, ge=1, le=64, description="Requests in flight in all.")
    feed_max_entries: int = Field(100, ge=1, le=100_000, description="New or changed entries taken per feed "
                                                                      "per pass; the rest wait for the next.")
    # Issue 27: what the server may fetch, and how much work one pass or page may cost.
    fetch_allow_private: bool = Field(False, description="Fetch loopback and private (RFC 1918, fc00::/7) "
                                      "addresses too; link-local, multicast and unspecified stay refused.")
    fetch_allow_hosts: str | None = Field(None, description="Comma-separated `host` or `host:port` names that are "
                                          "fetched whatever they resolve to (an intranet news site).")
    feeds_max: int = Field(500, ge=1, le=100_000, description="Feeds one store may watch.")
    feed_pass_budget_s: float = Field(600.0, ge=1, le=86_400, description="Longest one pass may run; feeds and "
                                      "entries not reached wait for the next pass.")
    fetch_max_text_chars: int = Field(200_000, ge=1000, description="Article text kept from one page.")
    fetch_extract_timeout_s: float = Field(20.0, gt=0, le=600, description="Longest the text extraction of one "
                                           "page may take (it runs in a worker process that is stopped then).")
    api_feed_keys: SecretStr | None = Field(None, description="With RAG_API_KEYS set: the keys that may add, "
                                            "remove and refresh feeds (comma-separated); unset = none may.")



    @model_validator(mode="after")
    def _chunks_for_the_model(self) -> Settings:
        """multilingual-e5-small reads 512 tokens: unless RAG_CHUNK_TOKENS / RAG_CHUNK_MIN_TOKENS say
        otherwise, its chunks are a whole paragraph or two (on XQuAD dev, hit@1 0.81 at 400 tiktoken
        tokens against 0.69 at MiniLM's 160: README "Languages"). MiniLM's stay as they were."""
        if self.embed_model == "multilingual-e5-small" and self.embedder == "local":
            for name, value in (("chunk_tokens", E5_CHUNK_TOKENS), ("chunk_min_tokens", E5_CHUNK_TOKENS)):
                if name not in self.model_fields_set:
                    setattr(self, name, value)
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once: for code uvicorn builds per connection (rag_api.server)."""
    return Settings()


def tiktoken_cache_dir() -> Path:
    """Where tiktoken's BPE files are placed: TIKTOKEN_CACHE_DIR (tiktoken's own variable), else
    $XDG_CACHE_HOME/rag-news/tiktoken (default ~/.cache)."""
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag-news" / "tiktoken"
