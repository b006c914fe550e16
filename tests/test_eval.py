"""`rag eval` runs end to end (the metrics and floors alone: tests/unit/test_eval_metrics.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import SEEDS


def milk_and_population(tmp_path: Path) -> Path:
    """Two questions over the seed: one it answers (the milk company), one it cannot (the population)."""
    dataset = tmp_path / "d.jsonl"
    dataset.write_text("\n".join(json.dumps(r) for r in [
        {"id": "1", "question": "Which Belarusian milk processing company operates in Astrakhan Oblast?",
         "answerable": True, "answers": ["Babushkina Krynka"],
         "evidence": ["one of Belarus' leading milk processing companies Babushkina Krynka"]},
        {"id": "2", "question": "What is the population of Astrakhan Oblast?", "answerable": False,
         "answers": [], "evidence": []},
    ]), encoding="utf-8")
    return dataset


def test_rag_eval_end_to_end_and_compare(tmp_path):
    dataset = milk_and_population(tmp_path)
    env = {**os.environ, "NO_COLOR": "1"}
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "rag", "eval", "--dataset", str(dataset), "--corpus",
                          str(SEEDS), "--out", str(out)], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_questions"] == 2 and metrics["hit_at_5"] == 1.0
    assert metrics["citation_validity"] == 1.0 and metrics["refusal_recall"] == 1.0
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    assert [a["id"] for a in answers] == ["1", "2"] and answers[0]["retrieved"]
    # why: the answer type each question expected, and the reason for each refusal
    assert "expected_type" in answers[0] and answers[0]["refusal_reason"] is None
    assert answers[1]["expected_type"] == "number" and answers[1]["refusal_reason"]
    assert "refusals by reason:" in run.stdout and "by expected answer type:" in run.stdout
    # what users feel: right / wrong shown / refused, and the curve over each answer's confidence
    assert metrics["right_rate"] == 1.0 and metrics["wrong_shown_rate"] == 0.0
    assert metrics["answered_anyway_rate"] == 0.0 and metrics["shown_precision"] == 1.0
    assert metrics["coverage"] == 0.5
    assert 0 < answers[0]["confidence"] <= 1 and metrics["aurc"] == 0.0  # one shown answer, and it is right
    assert metrics["risk_coverage"] and metrics["risk_coverage"][-1]["coverage"] == 0.5
    assert metrics["calibration"]["brier"] is not None
    assert [a["right"] for a in answers] == [True, True] and all("confidence" in a for a in answers)
    assert "right_rate" in run.stdout and "shown_precision" in run.stdout
    assert (out / "risk_coverage.svg").read_text().startswith("<svg")
    assert (out / "risk_coverage.png").read_bytes().startswith(b"\x89PNG")

    worse = tmp_path / "worse.json"
    worse.write_text(json.dumps({**metrics, "hit_at_5": 0.5}))
    compare = subprocess.run([sys.executable, "-m", "rag", "eval", "compare", str(out / "metrics.json"),
                              str(worse)], capture_output=True, text=True, env=env, timeout=60)
    assert compare.returncode == 0
    line = next(row for row in compare.stdout.splitlines() if "hit_at_5" in row)
    assert "-0.5 worse" in line
    assert any("right_rate" in row for row in compare.stdout.splitlines())

    floors = tmp_path / "floors.json"
    floors.write_text(json.dumps({"min": {"hit_at_5": 1.1}}))
    gated = subprocess.run([sys.executable, "-m", "rag", "eval", "--dataset", str(dataset), "--corpus",
                            str(SEEDS), "--out", str(out), "--floors", str(floors)],
                           capture_output=True, text=True, env=env, timeout=300)
    assert gated.returncode == 1 and "hit_at_5 = 1.0 is below its floor 1.1" in gated.stderr


def test_rag_eval_grader_llm_and_report(tmp_path, fake_llm):  # type: ignore[no-untyped-def]
    """Both graders' numbers, the judge cached by model and messages, and the HTML report."""
    dataset = milk_and_population(tmp_path)
    fake_llm.enqueue("RIGHT")
    env = {**os.environ, "NO_COLOR": "1", "RAG_LLM_MODEL": "fake-model", "RAG_LLM_BASE_URL": fake_llm.url,
           "RAG_LLM_API_KEY": "none"}
    out, cache, report = tmp_path / "out", tmp_path / "llm.sqlite", tmp_path / "r" / "report.html"
    args = [sys.executable, "-m", "rag", "eval", "--dataset", str(dataset), "--corpus", str(SEEDS), "--out", str(out),
            "--grader", "llm", "--llm-cache", str(cache), "--report", str(report)]
    run = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["right_rate"] == 1.0 and metrics["judge_right_rate"] == 1.0
    assert metrics["judge_n"] == 1 and metrics["judge_agreement"] == 1.0
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    assert answers[0]["judge"]["verdict"] == "right" and answers[1]["judge"]["verdict"] == "refused"
    judged = [r for r in fake_llm.requests if "RIGHT or WRONG" in r["messages"][-1]["content"]]
    assert len(judged) == 1 and "Babushkina Krynka" in judged[0]["messages"][-1]["content"]
    html = report.read_text()
    assert "<mark>" in html and "judge: right" in html and "judge_kappa" in html
    # a second run asks the model nothing: the judge's reply is in the cache
    again = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr
    assert len([r for r in fake_llm.requests if "RIGHT or WRONG" in r["messages"][-1]["content"]]) == 1
    compared = subprocess.run([sys.executable, "-m", "rag", "eval", "compare", str(out / "metrics.json"),
                               str(out / "metrics.json"), "--report", str(tmp_path / "cmp.html")],
                              capture_output=True, text=True, env=env, timeout=60)
    assert compared.returncode == 0 and "<svg" in (tmp_path / "cmp.html").read_text()
