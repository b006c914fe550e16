"""Time-aware answers (issue 14): time cues resolved against as_of, nothing after as_of used,
the recency prior, dates in answers, and as_of through the CLI and the API."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from rag.cli import cli
from rag.config import Settings
from rag.pipeline import Filters, Pipeline
from rag.timecues import parse_as_of
from rag.types import Article, Retrieval, final_answer
from rag_api.main import create_app
from tests.conftest import SEED_QUESTION

AS_OF = date(2024, 6, 14)  # a Friday


def _story(day: str, rate: str) -> Article:
    return Article(id=f"rate-{day}", title=f"Rate decision {day}", published_at=day,
                   text=f"The Bank of Veloria set its key rate at {rate} percent on Thursday. "
                        "Governor Alma Restrepo said inflation was the reason.")


@pytest.fixture
def rates(embedded_pipeline: Pipeline) -> Pipeline:
    embedded_pipeline.ingest([_story("2024-03-07", "7.25"), _story("2024-06-06", "6.75"),
                              _story("2024-09-12", "6.0")])
    return embedded_pipeline


def test_articles_after_as_of_are_never_used_on_either_side(rates):
    question = "What is the Bank of Veloria key rate now?"
    for as_of, allowed in (("2024-03-10", {"rate-2024-03-07"}), ("2024-06-10", {"rate-2024-03-07", "rate-2024-06-06"})):
        when = parse_as_of(as_of)
        assert {c.article_id for c in rates.retrieve(question, 10, as_of=when)} == allowed
        lexical = rates.retrieve("Veloria", 10, params=rates.retriever.params.__class__(method="lexical"), as_of=when)
        assert {c.article_id for c in lexical} == allowed
        answer = rates.ask(question, as_of=when, mode="extractive")
        assert {c.article_id for c in answer.citations} <= allowed and answer.as_of == as_of


def test_the_newest_article_before_as_of_ranks_first_and_time_can_be_turned_off(rates):
    question = "What is the Bank of Veloria key rate now?"
    answer = rates.ask(question, as_of=parse_as_of("2024-09-15"), mode="extractive")
    assert answer.citations[0].article_id == "rate-2024-09-12" and "6.0 percent" in answer.answer
    # Long after the newest story, "now" is still answered from it, saying as of when (issue 14).
    late = rates.ask(question, as_of=parse_as_of("2024-12-01"), mode="extractive")
    assert late.citations[0].article_id == "rate-2024-09-12" and "As of 2024-12-01" in (late.notice or "")
    events = list(rates.ask_stream(question, as_of=parse_as_of("2024-06-10"), mode="extractive", rank_depth=10))
    ranking = next(e for e in events if isinstance(e, Retrieval))
    assert ranking.chunks[0].article_id == "rate-2024-06-06" and ranking.chunks[0].recency
    assert "as of 2024-06-10" in (ranking.time_cue or "")
    off = Pipeline(rates.settings.model_copy(update={"time_aware": False}), embedder=rates.embedder)
    found = {c.article_id for c in off.retrieve(question, 10, as_of=parse_as_of("2024-03-10"))}
    assert "rate-2024-09-12" in found  # without time-awareness as_of is ignored, as before
    assert all(c.recency is None for c in off.retrieve(question, 10))


def test_explicit_until_still_wins_when_earlier_than_as_of(rates):
    found = rates.retrieve("Veloria key rate", 10, Filters(until="2024-04-01"), as_of=parse_as_of("2024-12-01"))
    assert {c.article_id for c in found} == {"rate-2024-03-07"}


def test_a_latest_question_with_old_evidence_says_as_of_when(rates):
    answer = rates.ask("What is the latest key rate of the Bank of Veloria?", as_of=parse_as_of("2025-03-01"),
                       mode="extractive")
    assert not answer.refused and answer.notice and "As of 2025-03-01" in answer.notice
    fresh = rates.ask("What is the latest key rate of the Bank of Veloria?", as_of=parse_as_of("2024-09-13"),
                      mode="extractive")
    assert fresh.notice is None


def test_cli_as_of_and_explain(rates, monkeypatch):
    monkeypatch.setenv("RAG_DATA_DIR", str(rates.settings.data_dir))
    runner = CliRunner()
    out = runner.invoke(cli, ["search", "latest Veloria key rate", "--explain", "--as-of", "2024-06-10"])
    assert out.exit_code == 0, out.output
    assert "'latest' (recent)" in out.output and "2024-09-12" not in out.output
    bad = runner.invoke(cli, ["ask", "What is the rate?", "--as-of", "June"])
    assert bad.exit_code == 2 and "--as-of" in bad.output and "YYYY-MM-DD" in bad.output
    asked = runner.invoke(cli, ["ask", "What is the Veloria key rate?", "--as-of", "2024-03-10T12:00", "--json"])
    assert asked.exit_code == 0 and json.loads(asked.output)["as_of"] == "2024-03-10"


def test_api_as_of_everywhere_and_422_on_a_bad_one(seeded_dir, minilm):
    client = TestClient(create_app(Pipeline(Settings(data_dir=seeded_dir), embedder=minilm)))
    before_seed = client.post("/v1/ask", json={"question": SEED_QUESTION, "as_of": "2025-05-01"}).json()
    assert before_seed["refused"] and before_seed["as_of"] == "2025-05-01"  # the seed is dated 2025-05-02
    on_the_day = client.post("/v1/ask", json={"question": SEED_QUESTION, "as_of": "2025-05-02T18:00"}).json()
    assert not on_the_day["refused"]
    assert client.get("/v1/search", params={"q": "Belarus", "as_of": "2025-05-01"}).json()["results"] == []
    chat = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": SEED_QUESTION}],
                                                     "rag": {"as_of": "2025-05-01"}}).json()
    assert chat["rag"]["refused"]
    for response in (client.post("/v1/ask", json={"question": "q", "as_of": "May"}),
                     client.get("/v1/search", params={"q": "q", "as_of": "2025-02-30"}),
                     client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "q"}],
                                                               "rag": {"as_of": "soon"}})):
        assert response.status_code == 422 and "as_of" in response.json()["detail"]
        assert "YYYY-MM-DD" in response.json()["detail"]


def test_final_answer_reads_events_until_the_final_one(rates):
    answer = final_answer(rates.ask_stream("Veloria key rate", mode="extractive"))
    assert answer.as_of == date.today().isoformat()
    with pytest.raises(RuntimeError, match="final answer"):
        final_answer(iter([]))


def test_the_time_set_needs_as_of(minilm, tmp_path):
    """evals/datasets/time.jsonl: one story at several dates; without time-awareness the wrong
    date's article wins about half the time."""
    from rag.evals.runner import run_eval
    from tests.conftest import ROOT

    def run(time_aware: bool):  # type: ignore[no-untyped-def]
        settings = Settings(data_dir=tmp_path, time_aware=time_aware)
        return run_eval(ROOT / "evals/datasets/time.jsonl", [ROOT / "evals/corpus-time"], settings,
                        pipeline_factory=lambda s: Pipeline(s, embedder=minilm))

    aware, off = run(True), run(False)
    assert not aware.dataset.errors and aware.metrics["citation_validity"] == 1.0
    assert aware.metrics["hit_at_1"] >= 0.95 > 0.5 > off.metrics["hit_at_1"]
    assert aware.metrics["answer_recall"] > off.metrics["answer_recall"] + 0.2
    outcome = next(o for o in aware.outcomes if o.question.id == "time-002")
    assert outcome.answer.as_of == "2024-06-10" and "6.75 percent" in outcome.answer.answer


def test_undated_articles_stay_at_now_and_go_with_an_explicit_as_of(rates):
    rates.ingest([Article(id="undated", title="Veloria note", text="The Bank of Veloria key rate note has no date.")])
    assert "undated" in {c.article_id for c in rates.retrieve("Bank of Veloria key rate note", 10)}
    assert "undated" not in {c.article_id for c in rates.retrieve("Bank of Veloria key rate note", 10,
                                                                      as_of=parse_as_of("2024-12-01"))}


