"""The `rag` command as a user runs it: real processes, real files, a fresh store each test."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SEED_ID, SEED_QUESTION, SEEDS

BLOCK_NETWORK = """
import socket, sys
def deny(*args, **kwargs):
    raise OSError("network blocked by the test")
socket.socket.connect = deny
socket.socket.connect_ex = deny
socket.create_connection = deny
socket.getaddrinfo = deny
from rag.cli import cli
cli(sys.argv[1:], prog_name="rag")
"""


def rag(tmp_path: Path, *args: str, offline: bool = False,
        env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_LLM_", "RAG_CHROMA_URL"))}
    env.update({"RAG_DATA_DIR": str(tmp_path / "store"), "NO_COLOR": "1", **(env_extra or {})})
    if offline:
        env["TIKTOKEN_CACHE_DIR"] = str(tmp_path / "empty-tiktoken-cache")
        command = [sys.executable, "-c", BLOCK_NETWORK, *args]
    else:
        command = [sys.executable, "-m", "rag", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_ingest_and_ask_with_the_network_blocked(tmp_path):
    ingest = rag(tmp_path, "ingest", str(SEEDS), offline=True)
    assert ingest.returncode == 0, ingest.stderr
    assert "1 added" in ingest.stdout
    ask = rag(tmp_path, "ask", SEED_QUESTION, "--json", offline=True)
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert not answer["refused"] and answer["citations"]
    assert (tmp_path / "empty-tiktoken-cache").is_dir(), "the BPE file was not installed offline"


def test_ask_json_has_the_documented_shape(tmp_path):
    rag(tmp_path, "ingest", str(SEEDS))
    result = rag(tmp_path, "ask", SEED_QUESTION, "--json")
    answer = json.loads(result.stdout)
    assert set(answer) >= {"question", "answer", "refused", "mode", "citations", "retrieved"}
    text = (SEEDS / SEED_ID).read_text(encoding="utf-8")
    body = text[text.index("Belarusian"):]
    for c in answer["citations"]:
        assert set(c) == {"n", "article_id", "chunk_id", "title", "published_at", "quote", "start", "end", "kind",
                          "language"}
        assert body[c["start"]:c["end"]] == c["quote"]
    assert all(set(r) == {"chunk_id", "article_id", "score"} for r in answer["retrieved"])
    human = rag(tmp_path, "ask", SEED_QUESTION)
    assert "Sources:" in human.stdout and "[1]" in human.stdout and "2025-05-02" in human.stdout


def test_bad_file_is_named_others_are_ingested_and_exit_is_1(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text("Rain fell on Minsk on Monday. Streets flooded.", encoding="utf-8")
    (docs / "bad.json").write_text("{broken", encoding="utf-8")
    result = rag(tmp_path, "ingest", str(docs))
    assert result.returncode == 1
    assert f"error: {docs / 'bad.json'}: malformed JSON" in result.stderr
    assert "1 added, 0 updated, 0 unchanged, 1 failed" in result.stdout
    listed = rag(tmp_path, "articles", "list")
    assert listed.stdout.startswith("good.txt\t")


def test_reingest_reports_unchanged_and_delete_works(tmp_path):
    rag(tmp_path, "ingest", str(SEEDS))
    again = rag(tmp_path, "ingest", str(SEEDS))
    assert "0 added, 0 updated, 1 unchanged, 0 failed" in again.stdout
    assert rag(tmp_path, "articles", "delete", SEED_ID).returncode == 0
    missing = rag(tmp_path, "articles", "delete", SEED_ID)
    assert missing.returncode == 1 and "no article with id" in missing.stderr
    assert rag(tmp_path, "articles", "list").stdout == ""


@pytest.mark.parametrize("args, message", [
    (("ask", "  "), "the question is empty"),
    (("ask", "x", "--since", "May 2"), "is not a date"),
    (("ask", "x", "--top-k", "0"), "0 is not in the range"),
])
def test_bad_arguments_get_one_clear_line(tmp_path, args, message):
    result = rag(tmp_path, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_llm_mode_without_configuration_says_what_to_set(tmp_path):
    result = rag(tmp_path, "ask", SEED_QUESTION, "--mode", "llm")
    assert result.returncode == 1
    assert "set RAG_LLM_MODEL" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_llm_answer_in_the_terminal_says_what_was_dropped(tmp_path, fake_llm):
    rag(tmp_path, "ingest", str(SEEDS))
    fake_llm.enqueue("QUOTES:\n[1] (source 1) \"Belarusian agricultural machinery is widely used in the fields of "
                     "the Russian region.\"\n[2] (source 1) \"Belarus sells rockets to everyone.\"\n"
                     "ANSWER:\nBelarusian machinery is widely used in the Russian region [1]. Rockets too [2].")
    llm = {"RAG_LLM_MODEL": "fake-model", "RAG_LLM_BASE_URL": fake_llm.url, "RAG_LLM_CITATIONS": "quotes"}
    result = rag(tmp_path, "ask", SEED_QUESTION, env_extra=llm)
    assert result.returncode == 0, result.stderr
    assert "Belarusian machinery is widely used in the Russian region [1]." in result.stdout
    assert "1 of the 2 quotes the model gave were not in the articles" in result.stdout
    assert "“Belarusian agricultural machinery is widely used" in result.stdout
    assert "rockets" not in result.stdout.split("Sources:")[1]


def test_eval_runs_in_llm_mode_against_the_fake_server(tmp_path, fake_llm):
    from tests.conftest import ROOT

    out = tmp_path / "out"
    llm = {"RAG_LLM_MODEL": "fake-model", "RAG_LLM_BASE_URL": fake_llm.url, "RAG_LLM_CITATIONS": "quotes"}
    result = rag(tmp_path, "eval", "--mode", "llm", "--dataset", str(ROOT / "evals/datasets/seed.jsonl"),
                 "--corpus", str(SEEDS), "--out", str(out), env_extra=llm)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["citation_validity"] == 1.0
    assert metrics["supported_sentence_rate"] >= 0.9
    assert metrics["quote_repair_rate"] > 0 and metrics["quote_drop_rate"] > 0  # the fake's loose copies
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    assert {a["mode"] for a in answers} <= {"llm", "extractive-fallback"} and "llm" in {a["mode"] for a in answers}
    # Every question the evidence gate let through was put to the model; the gate's refusals were not.
    gated = [a for a in answers if a["refused"] and (a["notice"] or "").startswith("Refused: ")]
    assert len(fake_llm.requests) >= metrics["n_questions"] - len(gated) > 0


def test_a_refusal_says_why_in_the_human_output(tmp_path):
    rag(tmp_path, "ingest", str(SEEDS))
    human = rag(tmp_path, "ask", "What is the population of Astrakhan Oblast?", "--mode", "extractive")
    assert human.returncode == 0, human.stderr
    assert "Note: Refused: no number in the sources." in human.stdout
