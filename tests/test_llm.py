"""LLM mode against a fake OpenAI-compatible server on loopback: what reaches the user is verified."""

from __future__ import annotations

import json
import time

import pytest

from rag.errors import ConfigError
from rag.loaders import load_paths
from rag.types import Final, Token
from tests.conftest import SEED_ID, SEED_QUESTION, SEEDS
from tests.fake_llm import REFUSAL, Scripted

SEED_TEXT = load_paths([SEEDS], 10**7).articles[0].text  # as stored: the date header is metadata
MACHINERY = "Belarusian agricultural machinery is widely used in the fields of the Russian region."
ELEVATORS = ("According to the President, at Russia’s request Belarus has significantly increased the supplies "
             "of elevators and related equipment.")
MILK = "The parties discussed the construction of a milk processing plant in the Russian region"


@pytest.fixture
def llm_pipeline(llm_pipeline):  # type: ignore[no-untyped-def]
    """These tests script replies in the quotes format (test_llm_sentences.py has the default mode)."""
    return lambda **overrides: llm_pipeline(**{"llm_citations": "quotes", **overrides})


def reply(quotes: list[tuple[int | None, str]], answer: str) -> str:
    lines = [f'[{i}] (source {src}) "{q}"' if src else f'[{i}] "{q}"' for i, (src, q) in enumerate(quotes, 1)]
    return "QUOTES:\n" + "\n".join(lines) + f"\nANSWER:\n{answer}"


def assert_exact(answer) -> None:  # type: ignore[no-untyped-def]
    for c in answer.citations:
        assert SEED_TEXT[c.start:c.end] == c.quote


def test_verbatim_quotes_become_citations_and_markers_are_renumbered(llm_pipeline, fake_llm):
    fake_llm.enqueue(reply([(1, MACHINERY), (1, ELEVATORS)],
                           "Belarus offered agricultural machinery [1] and elevators [2]."))
    answer = llm_pipeline().ask(SEED_QUESTION)
    assert answer.mode == "llm" and not answer.refused
    assert [c.kind for c in answer.citations] == ["verbatim", "verbatim"]
    assert answer.citations[0].quote.startswith("Belarusian agricultural machinery is widely used")
    assert answer.answer == "Belarus offered agricultural machinery [1] and elevators [2]."
    assert answer.verification.verified == 2 and answer.verification.unsupported_sentences == 0
    assert_exact(answer)
    prompt = fake_llm.requests[0]["messages"][1]["content"]
    assert "[Source 1]" in prompt and "Question: What did Belarus offer Astrakhan?" in prompt


def test_straight_quotes_for_curly_ones_still_match_and_show_the_articles_text(llm_pipeline, fake_llm):
    straight = ELEVATORS.replace("’", "'").upper()  # the model's typography and case differ
    fake_llm.enqueue(reply([(1, straight)], "Belarus increased elevator supplies [1]."))
    answer = llm_pipeline().ask("What did Belarus increase?")
    assert answer.citations[0].kind == "verbatim"
    assert "Russia’s request" in answer.citations[0].quote
    assert_exact(answer)


def test_a_fabricated_quote_is_dropped_and_counted(llm_pipeline, fake_llm):
    fake_llm.enqueue(reply([(1, MACHINERY), (1, "Belarus will build a nuclear power plant in Astrakhan next year.")],
                           "Belarusian agricultural machinery is widely used in the region [1]. "
                           "Belarus will also build a nuclear plant there [2]."))
    answer = llm_pipeline().ask(SEED_QUESTION)
    assert len(answer.citations) == 1 and "nuclear" not in answer.citations[0].quote
    assert answer.verification.dropped == 1 and answer.verification.quotes_total == 2
    assert "[2]" not in answer.answer  # the marker of the dropped quote is gone
    assert any("nuclear" in s for s in answer.unsupported)
    assert answer.verification.unsupported_sentences == 1


def test_a_quote_attributed_to_the_wrong_source_is_reattributed(llm_pipeline, fake_llm, minilm):
    from tests.conftest import ROOT

    pipeline = llm_pipeline()
    pipeline.ingest(load_paths([ROOT / "evals" / "corpus" / "syn_002_omsk_dairy_delegation.txt"], 10**7).articles)
    try:
        fake_llm.enqueue(reply([(2, MILK)], "A milk plant in the region was discussed [1]."))
        answer = pipeline.ask("Was a milk processing plant in Astrakhan discussed with Belarus?")
        prompt = fake_llm.requests[0]["messages"][1]["content"]
        assert "[Source 2]" in prompt
        assert answer.citations[0].kind == "reattributed"
        assert answer.citations[0].article_id == SEED_ID
        assert_exact(answer)
    finally:
        pipeline.delete_article("syn_002_omsk_dairy_delegation.txt")


def test_an_ellipsis_quote_becomes_several_exact_spans(llm_pipeline, fake_llm):
    quote = "Agricultural work requires plows … Belarus is ready to offer a wide range of such equipment"
    fake_llm.enqueue(reply([(1, quote)], "Belarus offered equipment for tractors [1]."))
    answer = llm_pipeline().ask(SEED_QUESTION)
    assert [c.quote for c in answer.citations] == [
        "Agricultural work requires plows", "Belarus is ready to offer a wide range of such equipment"]
    assert answer.answer.endswith("[1][2].")
    assert_exact(answer)


def test_a_quote_stitched_from_two_sentences_is_rejected(llm_pipeline, fake_llm):
    stitched = ("Belarusian agricultural machinery is widely used in the fields of Babushkina Krynka "
                "in Astrakhan Oblast")
    fake_llm.enqueue(reply([(1, stitched), (1, MACHINERY)], "Machinery is used there [1][2]."))
    answer = llm_pipeline().ask(SEED_QUESTION)
    assert [c.quote for c in answer.citations] == [MACHINERY.rstrip(".")]
    assert answer.verification.dropped == 1


def test_a_paraphrase_is_repaired_to_the_real_sentence(llm_pipeline, fake_llm):
    fake_llm.enqueue(reply([(1, "Farm machinery made in Belarus is used a lot in the fields of the Russian region.")],
                           "Belarusian farm machinery is widely used in the region [1]."))
    answer = llm_pipeline().ask(SEED_QUESTION)
    assert answer.citations[0].kind == "repaired"
    assert answer.citations[0].quote == MACHINERY
    assert answer.verification.repaired == 1
    assert_exact(answer)


def test_a_negated_paraphrase_is_not_repaired_to_the_sentence_saying_the_opposite(llm_pipeline, fake_llm):
    fake_llm.enqueue(reply([(1, "Belarus refused to offer agricultural machinery to the Russian region.")],
                           "Belarus refused to offer agricultural machinery [1]."))
    answer = llm_pipeline().ask(SEED_QUESTION)
    assert all("refused" not in c.quote for c in answer.citations)
    assert answer.mode == "extractive-fallback"  # nothing the model said held; the articles' own sentences
    assert "could not be verified" in (answer.notice or "")


def test_the_fixed_refusal_is_a_refusal(llm_pipeline, fake_llm):
    fake_llm.enqueue(f"QUOTES:\nANSWER: {REFUSAL}")
    answer = llm_pipeline().ask("What is the population of Astrakhan Oblast?")
    assert answer.refused and answer.answer == REFUSAL and answer.citations == [] and answer.mode == "llm"


def test_quotes_followed_by_the_fixed_refusal_are_a_refusal(llm_pipeline, fake_llm):
    fake_llm.enqueue(reply([(1, MACHINERY)], REFUSAL))
    answer = llm_pipeline().ask("What is the population of Astrakhan Oblast?")
    assert answer.refused and answer.citations == []


def test_a_hedge_with_no_quotes_is_a_refusal(llm_pipeline, fake_llm):
    fake_llm.enqueue("The population is not given in the sources, but it is probably around a million.")
    answer = llm_pipeline().ask("What is the population of Astrakhan Oblast?")
    assert answer.refused and answer.citations == []


def test_json_replies_and_unformatted_replies_are_understood(llm_pipeline, fake_llm):
    as_json = json.dumps({"quotes": [{"source": 1, "quote": MACHINERY}], "answer": "Machinery [1]."})
    fake_llm.enqueue(f"```json\n{as_json}\n```")
    assert llm_pipeline().ask(SEED_QUESTION).citations[0].quote == MACHINERY.rstrip(".")
    fake_llm.enqueue(f'The article says "{MACHINERY}" [1]')
    answer = llm_pipeline().ask(SEED_QUESTION)
    assert answer.mode == "llm" and answer.citations[0].quote == MACHINERY.rstrip(".")


def test_malformed_output_falls_back_to_extractive(llm_pipeline, fake_llm):
    fake_llm.enqueue("<|im_end|> ### ??? 12 34")
    answer = llm_pipeline().ask(SEED_QUESTION)
    assert answer.mode == "extractive-fallback" and answer.citations
    assert_exact(answer)


def test_429_then_success_is_retried(llm_pipeline, fake_llm):
    fake_llm.enqueue(Scripted(status=429, headers={"retry-after": "0.1"}), reply([(1, MACHINERY)], "Machinery [1]."))
    answer = llm_pipeline().ask(SEED_QUESTION)
    assert answer.mode == "llm" and len(fake_llm.requests) == 2


def test_persistent_5xx_falls_back_after_bounded_retries(llm_pipeline, fake_llm):
    fake_llm.enqueue(*[Scripted(status=503)] * 3)
    answer = llm_pipeline(llm_max_retries=2).ask(SEED_QUESTION)
    assert answer.mode == "extractive-fallback" and answer.citations
    assert "HTTP 503" in answer.notice and len(fake_llm.requests) == 3


def test_a_slow_llm_is_cut_off_by_the_deadline(llm_pipeline, fake_llm):
    fake_llm.enqueue(*[Scripted(reply([(1, MACHINERY)], "Machinery [1]."), delay=3)] * 5)
    started = time.monotonic()
    answer = llm_pipeline(llm_timeout_s=0.5, llm_deadline_s=1.5, llm_max_retries=10).ask(SEED_QUESTION)
    elapsed = time.monotonic() - started
    assert answer.mode == "extractive-fallback" and "1.5 s" in answer.notice
    assert elapsed < 3.0  # the deadline, not timeouts times retries


def test_a_stream_that_breaks_before_the_answer_is_retried(llm_pipeline, fake_llm):
    text = reply([(1, MACHINERY)], "Machinery is used there [1].")
    fake_llm.enqueue(Scripted(text, break_after=3), text)
    answer = llm_pipeline().ask(SEED_QUESTION)
    assert answer.mode == "llm" and answer.answer == "Machinery is used there [1]."


def test_a_stream_that_breaks_mid_answer_falls_back(llm_pipeline, fake_llm):
    text = reply([(1, MACHINERY)], "Belarusian machinery is widely used in the fields of the region [1]. " * 3)
    fake_llm.enqueue(Scripted(text, break_after=len(text) // 7 - 3))
    events = list(llm_pipeline().ask_stream(SEED_QUESTION))
    assert any(isinstance(e, Token) for e in events)  # some answer text had been shown ...
    final = events[-1].answer
    assert final.mode == "extractive-fallback" and "broke off" in final.notice  # ... and is superseded


def test_streaming_shows_no_quote_before_it_is_verified(llm_pipeline, fake_llm):
    fake_llm.enqueue(reply([(1, MACHINERY), (1, "An invented sentence that no article contains at all.")],
                           "Machinery is widely used in the Russian region [1]."))
    events = list(llm_pipeline().ask_stream(SEED_QUESTION))
    tokens = "".join(e.text for e in events if isinstance(e, Token))
    assert tokens == "Machinery is widely used in the Russian region [1]."
    assert "invented" not in tokens and "QUOTES" not in tokens
    assert isinstance(events[-1], Final) and len(events[-1].answer.citations) == 1


def test_follow_ups_are_rewritten_into_standalone_questions(llm_pipeline, fake_llm):
    fake_llm.enqueue("What food did Belarus offer Astrakhan Oblast?",
                     reply([(1, "The situation is similar with regard to food supplies, including baby food.")],
                           "Belarus offered food supplies, including baby food [1]."))
    history = [("user", SEED_QUESTION), ("assistant", "Machinery [1].")]
    answer = llm_pipeline().ask("and what about food?", history=history)
    assert answer.standalone_question == "What food did Belarus offer Astrakhan Oblast?"
    assert answer.question == "and what about food?"
    rewrite_prompt = fake_llm.requests[0]["messages"][1]["content"]
    assert SEED_QUESTION in rewrite_prompt and "and what about food?" in rewrite_prompt
    assert "baby food" in answer.citations[0].quote


def test_history_is_bounded(llm_pipeline, fake_llm):
    history = [("user", f"question number {i}") for i in range(20)]
    fake_llm.enqueue("What did Belarus offer?", f"QUOTES:\nANSWER: {REFUSAL}")
    llm_pipeline(llm_history_turns=4).ask("and then?", history=history)
    prompt = fake_llm.requests[0]["messages"][1]["content"]
    assert "question number 19" in prompt and "question number 15" not in prompt


def test_llm_mode_without_a_model_says_which_variable_to_set(seeded_dir, minilm):
    from rag.config import Settings
    from rag.pipeline import Pipeline

    pipeline = Pipeline(Settings(data_dir=seeded_dir), embedder=minilm)
    with pytest.raises(ConfigError, match="RAG_LLM_MODEL"):
        pipeline.ask(SEED_QUESTION, mode="llm")
    assert pipeline.ask(SEED_QUESTION).mode == "extractive"  # auto without an LLM


def test_an_unreachable_llm_falls_back_and_says_so(llm_pipeline, fake_llm):
    answer = llm_pipeline(llm_base_url="http://127.0.0.1:9/v1", llm_max_retries=1).ask(SEED_QUESTION)
    assert answer.mode == "extractive-fallback" and answer.citations
    assert "could not connect" in answer.notice
