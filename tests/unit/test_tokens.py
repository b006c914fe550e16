import hashlib

import pytest

from rag.errors import ConfigError
from rag.tokens import install_bpe


def test_bpe_file_lands_where_tiktoken_looks_with_the_expected_hash(tmp_path):
    path = install_bpe("cl100k_base", tmp_path)
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    assert path.name == hashlib.sha1(url.encode()).hexdigest()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"


def test_corrupt_cached_file_is_replaced(tmp_path):
    path = install_bpe("o200k_base", tmp_path)
    path.write_bytes(b"garbage")
    install_bpe("o200k_base", tmp_path)
    assert hashlib.sha256(path.read_bytes()).hexdigest().startswith("446a9538")


def test_unknown_encoding_names_the_setting(tmp_path):
    with pytest.raises(ConfigError, match="RAG_ENCODING"):
        install_bpe("p50k_nope", tmp_path)
