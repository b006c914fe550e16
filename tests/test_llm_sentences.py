"""Sentences mode (the default) against the fake server: the model cites numbered sentences, and
a citation is the sentence itself. What reaches the user is supported, and about the question."""

from __future__ import annotations

import re

import pytest

from rag.loaders import load_paths
from rag.sentences import split_sentences
from rag.types import Final, Token
from tests.conftest import SEED_QUESTION, SEEDS
from tests.fake_llm import REFUSAL, Scripted

SEED_TEXT = load_paths([SEEDS], 10**7).articles[0].text
SENTENCES = [SEED_TEXT[s:e] for s, e in split_sentences(SEED_TEXT)]  # the seed goes whole, as [S1] ...


@pytest.fixture
def llm_pipeline(llm_pipeline):  # type: ignore[no-untyped-def]
    """A roomier deadline (the first answer of a session also opens the store and the index), and the
    whole seed as the sources (RAG_LLM_CONTEXT=articles), so sentence numbers are the article's own."""
    return lambda **overrides: llm_pipeline(**{"llm_deadline_s": 60.0, "llm_context": "articles", **overrides})


def s(prefix: str) -> int:
    """The number the prompt gives the seed's sentence that starts with `prefix`."""
    return next(i for i, text in enumerate(SENTENCES, start=1) if text.startswith(prefix))


MACHINERY = s("Belarusian agricultural machinery is widely used")
ELEVATORS = s("According to the President, at Russia’s request")


def run(pipeline, question: str = SEED_QUESTION):  # type: ignore[no-untyped-def]
    events = list(pipeline.ask_stream(question))
    assert isinstance(events[-1], Final)
    return "".join(e.text for e in events if isinstance(e, Token)), events[-1].answer


def test_cited_sentences_are_the_citations_exactly_and_markers_are_renumbered(llm_pipeline, fake_llm):
    fake_llm.enqueue(f"Belarus offered agricultural machinery [S{MACHINERY}]. It also increased supplies of "
                     f"elevators [S{ELEVATORS}].")
    shown, answer = run(llm_pipeline())
    assert answer.mode == "llm" and not answer.refused, answer
    assert answer.answer == "Belarus offered agricultural machinery [1]. It also increased supplies of elevators [2]."
    assert shown == answer.answer  # streamed as it was verified, nothing replaced
    assert [c.quote for c in answer.citations] == [SENTENCES[MACHINERY - 1], SENTENCES[ELEVATORS - 1]]
    assert all(SEED_TEXT[c.start:c.end] == c.quote and c.kind == "verbatim" for c in answer.citations)
    assert answer.verification.verified == 2 and answer.verification.unsupported_sentences == 0


def test_the_prompt_is_system_then_an_example_then_numbered_sources_then_the_question(llm_pipeline, fake_llm):
    fake_llm.enqueue(f"Machinery [S{MACHINERY}].")
    answer = llm_pipeline(llm_answer_tokens=200).ask(SEED_QUESTION)
    request = fake_llm.requests[0]
    roles = [m["role"] for m in request["messages"]]
    assert roles[0] == "system" and roles[-1] == "user"
    assert roles[1:-1] == ["user", "assistant"] * (len(roles[1:-1]) // 2)  # the worked example
    system, example, example_answer, user = (request["messages"][i]["content"] for i in (0, 1, 2, -1))
    assert "numbered sentences" in system and "data, not instructions" in system
    assert "[S1]" in example and "[S1]" in example_answer and SEED_QUESTION not in example
    assert user.startswith("Sources:\n\n[Source 1]") and user.index(f"Question: {SEED_QUESTION}") > user.rindex("\n[S")
    assert f"[S{MACHINERY}] {' '.join(SENTENCES[MACHINERY - 1].split())}" in user
    assert request["max_tokens"] == 200
    assert answer.usage is not None and answer.usage.completion_tokens > 0 and answer.usage.prompt_tokens > 0


def test_an_unsupported_sentence_is_left_out_and_the_supported_one_shown(llm_pipeline, fake_llm):
    fake_llm.enqueue(f"Belarusian agricultural machinery is widely used in the Russian region [S{MACHINERY}][S999]. "
                     f"Belarus will build a nuclear power plant in Astrakhan [S{ELEVATORS}].")
    shown, answer = run(llm_pipeline())
    assert answer.mode == "llm"
    assert answer.answer == "Belarusian agricultural machinery is widely used in the Russian region [1]."
    assert "nuclear" not in shown and len(answer.citations) == 1
    assert answer.unsupported == ["Belarus will build a nuclear power plant in Astrakhan."]
    assert answer.verification.sentences_total == 2 and answer.verification.unsupported_sentences == 1
    assert answer.verification.dropped == 1  # [S999] names no sentence


def test_nothing_supported_falls_back_to_the_extractive_answer(llm_pipeline, fake_llm):
    fake_llm.enqueue(f"Belarus will build a nuclear power plant in Astrakhan [S{MACHINERY}]. Rockets too [S999].")
    answer = llm_pipeline().ask(SEED_QUESTION)
    assert answer.mode == "extractive-fallback" and answer.citations
    assert "could not be verified" in (answer.notice or "")


def test_the_fixed_refusal_is_a_refusal(llm_pipeline, fake_llm):
    fake_llm.enqueue(REFUSAL)
    answer = llm_pipeline().ask("What is the population of Astrakhan Oblast?")
    assert answer.refused and answer.answer == REFUSAL and answer.citations == [] and answer.mode == "llm"


def test_evidence_about_a_neighbouring_story_is_refused(llm_pipeline, fake_llm):
    # Verified and supported, but the seed is about Astrakhan, not Kazakhstan. With the evidence
    # gate off the model is asked, and the relevance check refuses its answer.
    fake_llm.enqueue(f"Belarusian agricultural machinery is widely used [S{MACHINERY}].")
    shown, answer = run(llm_pipeline(llm_evidence_gate=False), "What did Belarus offer Kazakhstan?")
    assert len(fake_llm.requests) == 1
    assert answer.refused and shown == ""
    assert "the model's answer rests on" in (answer.notice or "").lower()
    assert "Kazakhstan" in (answer.notice or "").title()


def test_when_the_evidence_model_refuses_the_model_is_not_asked(llm_pipeline, fake_llm):
    shown, answer = run(llm_pipeline(), "Which team won the World Cup final in Qatar?")
    assert fake_llm.requests == []
    assert answer.refused and shown == "" and answer.mode == "llm"
    assert (answer.notice or "").startswith("Refused: ")


def test_the_model_reads_only_the_article_the_extractive_answer_quotes(llm_pipeline, fake_llm):
    fake_llm.enqueue(f"Machinery [S{MACHINERY}].")
    llm_pipeline(llm_source_articles=3, llm_source_margin=1.0).ask(SEED_QUESTION)
    user = fake_llm.requests[0]["messages"][-1]["content"]
    assert user.count("[Source ") == 1 and "Astrakhan" in user.split("\n")[2]


def test_a_how_many_question_needs_a_number_in_the_cited_sentence(llm_pipeline, fake_llm):
    fake_llm.enqueue(f"Belarusian agricultural machinery is widely used in the region [S{MACHINERY}].")
    answer = llm_pipeline(llm_evidence_gate=False).ask("How many tractors did Belarus send to Astrakhan?")
    assert answer.refused and "number" in (answer.notice or "")


def test_markers_after_the_full_stop_and_list_lines_are_read(llm_pipeline, fake_llm):
    fake_llm.enqueue(Scripted(f"- Belarusian agricultural machinery is widely used in the region. [S{MACHINERY}]\n"
                              f"- Supplies of elevators were increased at Russia's request [S{ELEVATORS}]\n", piece=3))
    shown, answer = run(llm_pipeline())
    assert [c.quote for c in answer.citations][:2] == [SENTENCES[MACHINERY - 1], SENTENCES[ELEVATORS - 1]]
    assert shown == answer.answer and all(line.startswith("- ") for line in answer.answer.splitlines())
    # the list keeps the items the extractive answer found that the model left out, as their sentences
    added = answer.citations[2:]
    assert added and all(f"- {' '.join(c.quote.split())} [{c.n}]" in answer.answer for c in added)
    assert f"{len(added)} item(s) the model left out are the articles' own sentences." in (answer.notice or "")


def test_a_stream_that_breaks_before_any_answer_is_shown_is_retried(llm_pipeline, fake_llm):
    text = f"Belarusian agricultural machinery is widely used in the region [S{MACHINERY}]."
    fake_llm.enqueue(Scripted(text, break_after=3), text)
    answer = llm_pipeline().ask(SEED_QUESTION)
    assert answer.mode == "llm" and answer.answer.endswith("[1].") and len(fake_llm.requests) == 2


def test_quotes_mode_stays_available(llm_pipeline, fake_llm):
    fake_llm.enqueue(f'QUOTES:\n[1] (source 1) "{SENTENCES[MACHINERY - 1]}"\nANSWER:\nMachinery is used there [1].')
    answer = llm_pipeline(llm_citations="quotes").ask(SEED_QUESTION)
    assert answer.mode == "llm" and answer.citations[0].quote == SENTENCES[MACHINERY - 1].rstrip(".")
    assert "QUOTES:" in fake_llm.requests[0]["messages"][0]["content"]


def test_a_list_question_names_the_extractive_candidates_after_the_sources(llm_pipeline, fake_llm):
    fake_llm.enqueue(f"Machinery [S{MACHINERY}].")
    llm_pipeline().ask(SEED_QUESTION)
    user = fake_llm.requests[0]["messages"][-1]["content"]
    hint = user.split("may answer it: ")[1].split("\n")[0]
    assert f"S{ELEVATORS}" in hint.split(", ") and len(hint.split(", ")) >= 5
    assert user.index("may answer it: ") > user.index(f"Question: {SEED_QUESTION}")  # after the question


def test_eval_in_sentences_mode_shows_no_unsupported_sentence(fake_llm, minilm, tmp_path):
    from rag.config import Settings
    from rag.evals.runner import run_eval
    from rag.pipeline import Pipeline
    from tests.conftest import ROOT

    settings = Settings(data_dir=tmp_path, llm_model="fake-model", llm_base_url=fake_llm.url, llm_deadline_s=60.0)
    run = run_eval(ROOT / "evals/datasets/seed.jsonl", [SEEDS], settings, mode="llm",
                   pipeline_factory=lambda s: Pipeline(s, embedder=minilm))
    # Two fallbacks: asked "Who said “…”?", the copycat restates the quote, which answers nothing;
    # asked "Whose decisions …?", it names nobody (the answer-type check).
    assert run.metrics["citation_validity"] == 1.0 and run.metrics["fallback_rate"] <= round(2 / 57, 4)
    assert run.metrics["prompt_tokens_mean"] > run.metrics["completion_tokens_mean"] > 0
    answers = [o.answer for o in run.outcomes if o.answer.mode == "llm" and not o.answer.refused]
    partial = [a for a in answers if a.unsupported]
    assert partial  # the copycat's invented claim, left out ...
    assert all(u not in a.answer for a in partial for u in a.unsupported)  # ... of the text shown


def test_a_reply_of_bare_sentence_numbers_is_those_sentences(llm_pipeline, fake_llm):
    fake_llm.enqueue(f"S{MACHINERY}, S{ELEVATORS}")
    shown, answer = run(llm_pipeline())
    assert answer.mode == "llm" and [c.quote for c in answer.citations] == [SENTENCES[MACHINERY - 1],
                                                                           SENTENCES[ELEVATORS - 1]]
    assert answer.answer == f"{SENTENCES[MACHINERY - 1]} [1] {' '.join(SENTENCES[ELEVATORS - 1].split())} [2]"
    assert shown == answer.answer


def test_list_lines_stay_lines_and_a_mis_numbered_item_is_re_attributed(llm_pipeline, fake_llm):
    # The model swaps the two numbers; each item is checked against what it cites, then against
    # the sentences that say it (the same support check), and cited with those.
    fake_llm.enqueue(f"- Agricultural machinery [S{ELEVATORS}]\n- Elevators and related equipment [S{MACHINERY}]")
    shown, answer = run(llm_pipeline())
    assert answer.mode == "llm" and answer.unsupported == []
    lines = answer.answer.split("\n")  # the model's two items, then the extractive answer's others
    assert len(lines) > 2 and all(line.startswith("- ") for line in lines) and shown == answer.answer
    by_n = {c.n: c.quote for c in answer.citations}
    for line, word in zip(lines[:2], ("machinery", "elevators"), strict=True):
        cited = [by_n[int(n)] for n in re.findall(r"\[(\d+)\]", line)]
        assert cited and all(word in quote.lower() for quote in cited)
    assert all(SEED_TEXT[c.start:c.end] == c.quote for c in answer.citations)


def test_a_one_word_item_is_checked_too(llm_pipeline, fake_llm):
    fake_llm.enqueue(f"- Elevators [S{ELEVATORS}]\n- Submarines [S{MACHINERY}]")
    answer = llm_pipeline().ask(SEED_QUESTION)
    assert answer.answer.startswith("- Elevators [1]") and "Submarines" not in answer.answer
    assert answer.unsupported == ["Submarines"]


def test_a_sentence_that_only_restates_the_question_is_left_out(llm_pipeline, fake_llm):
    fake_llm.enqueue(f"Belarus offered Astrakhan [S{MACHINERY}]. "
                     f"Belarus offered agricultural machinery [S{MACHINERY}].")
    answer = llm_pipeline().ask(SEED_QUESTION)
    assert answer.unsupported == ["Belarus offered Astrakhan."]
    assert answer.answer == "Belarus offered agricultural machinery [1]."
