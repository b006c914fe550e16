"""Confidence (rag/answering/confidence.py), extract-then-compose sources and the reply cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from rag import tuning
from rag.answering import confidence
from rag.answering.confidence import FEATURES
from rag.answering.selection import Params, extract
from rag.answering.sources import excerpt_sources
from rag.llm_cache import CachedLLM
from rag.llm_client import Deadline, LLMClient, LLMConfig
from tests.fakes import chunk

OFFERS = ("Belarus is ready to offer tractors and trailed equipment to Astrakhan.\n\n"
          "The President named passenger vehicles as another area of cooperation.\n\n"
          "Food supplies are another area, including baby food.")
WEATHER = "Heavy rain is expected in Minsk on Friday, forecasters said."


def test_the_model_has_a_coefficient_per_feature() -> None:
    assert len(tuning.CONFIDENCE.coefficients) == len(FEATURES)
    assert 0 < tuning.MIN_CONFIDENCE < 1


def test_an_answer_on_strong_evidence_is_surer_than_one_on_weak_evidence() -> None:
    question = "What is Belarus ready to offer Astrakhan?"
    strong = extract(question, [chunk(OFFERS, score=0.8), chunk(WEATHER, "b", score=0.2)])
    weak = extract(question, [chunk(OFFERS, score=0.45), chunk(WEATHER, "b", score=0.43)], Params(min_confidence=0))
    assert not strong.refused and not weak.refused
    assert 0 < weak.confidence < strong.confidence < 1
    assert len(strong.features) == len(FEATURES)
    assert abs(confidence.probability(strong.features) - strong.confidence) < 1e-4


def test_the_evidence_age_counts_only_against_a_day_the_asker_gave() -> None:
    question = "What is Belarus ready to offer Astrakhan?"
    old = chunk(OFFERS, score=0.8).model_copy(update={"published_at": "2024-01-01"})
    now = extract(question, [old])
    months_later = extract(question, [old], Params(min_confidence=0), asked="2024-06-01")
    assert months_later.features[FEATURES.index("older_than_months")] == 1.0
    assert now.features[FEATURES.index("older_than_months")] == 0.0
    assert months_later.confidence < now.confidence
    # refused below the threshold, saying why
    refused = extract(question, [old], Params(min_confidence=months_later.confidence + 0.01), asked="2024-06-01")
    assert refused.refused and refused.refused_by_evidence and "older" in refused.reason


def test_a_follow_up_reports_its_confidence_but_is_not_refused_on_it() -> None:
    found = extract("And what about food?", [chunk(OFFERS, score=0.5)], Params(min_confidence=0.99),
                    about="What did Belarus offer Astrakhan? And what about food?")
    assert not found.refused and found.confidence < 0.99


def test_excerpts_are_the_chosen_sentences_and_their_neighbours_sliced_from_the_article() -> None:
    text = "One. Two is here. Three is the answer. Four follows. Five. Six is far away."
    answer = text.index("Three")
    c = chunk(text)
    sources = excerpt_sources([(c, answer, answer + len("Three is the answer."))], lambda _: text, 1)
    assert [s.text for s in sources] == ["Two is here. Three is the answer. Four follows."]
    assert all(text[s.start:s.end] == s.text for s in sources)
    far = text.index("Six")
    two = excerpt_sources([(c, answer, answer + 5), (c, far, far + 3)], lambda _: text, 0)
    assert [s.text for s in two] == ["Three is the answer.", "Six is far away."]
    assert excerpt_sources([(c, 0, 3)], lambda _: None, 1) == []  # no text: the caller sends whole sources


class _Scripted(LLMClient):
    def __init__(self, replies: list[str]) -> None:
        super().__init__(LLMConfig("m", None, "none", 1.0, 0, 64))
        self.replies = replies
        self.calls = 0

    def stream(self, messages: list[dict[str, str]], deadline: Deadline,
               on_retry: Callable[[], None] | None = None, max_tokens: int | None = None,
               on_usage: Callable[[int, int], None] | None = None) -> Iterator[str]:
        self.calls += 1
        if on_usage:
            on_usage(12, 3)
        yield from self.replies


def test_the_reply_cache_streams_a_reply_once_asked(tmp_path: Path) -> None:
    inner = _Scripted(["Machinery ", "[S1]."])
    cached = CachedLLM(inner, tmp_path / "replies.sqlite")
    messages = [{"role": "user", "content": "What did Belarus offer?"}]
    usage: list[tuple[int, int]] = []
    first = "".join(cached.stream(messages, Deadline(5), max_tokens=32, on_usage=lambda p, c: usage.append((p, c))))
    again = "".join(cached.stream(messages, Deadline(5), max_tokens=32, on_usage=lambda p, c: usage.append((p, c))))
    assert first == again == "Machinery [S1]." and inner.calls == 1
    assert usage == [(12, 3), (12, 3)] and (cached.hits, cached.misses) == (1, 1)
    assert cached.complete([{"role": "user", "content": "other"}], Deadline(5)) == "Machinery [S1]."
    assert inner.calls == 2
