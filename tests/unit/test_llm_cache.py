"""rag/llm_cache.py: replies kept by model and messages; empty replies never kept."""

from __future__ import annotations

from pathlib import Path

from rag.llm_cache import CachedLLM, cache_key
from rag.llm_client import Deadline, LLMConfig


class Stub:
    def __init__(self, replies: list[str], model: str = "m") -> None:
        self.config = LLMConfig(model, None, "k", 1.0, 0, 16)
        self.replies = replies
        self.asked = 0

    def complete(self, messages: list[dict[str, str]], deadline: Deadline) -> str:
        self.asked += 1
        return self.replies.pop(0)


def test_a_reply_is_asked_once_per_model_and_messages(tmp_path: Path) -> None:
    stub = Stub(["", "RIGHT", "WRONG"])
    cached = CachedLLM(stub, tmp_path / "c.sqlite")
    hello = [{"role": "user", "content": "hello"}]
    assert cached.complete(hello, Deadline(5)) == ""  # empty: not kept
    assert cached.complete(hello, Deadline(5)) == "RIGHT"
    assert cached.complete(hello, Deadline(5)) == "RIGHT" and stub.asked == 2
    assert cached.complete([{"role": "user", "content": "other"}], Deadline(5)) == "WRONG"
    cached.close()
    again = CachedLLM(Stub([]), tmp_path / "c.sqlite")  # a new process reads the file
    assert again.complete(hello, Deadline(5)) == "RIGHT" and again.hits == 1
    assert cache_key("m", hello) != cache_key("other-model", hello)
