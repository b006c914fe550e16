"""`rag eval` runs end to end (the metrics and floors alone: tests/unit/test_eval_metrics.py)."""

import json
import os
import subprocess
import sys

from tests.conftest import SEEDS


def test_rag_eval_end_to_end_and_compare(tmp_path):
    dataset = tmp_path / "d.jsonl"
    dataset.write_text("\n".join(json.dumps(r) for r in [
        {"id": "1", "question": "Which Belarusian milk processing company operates in Astrakhan Oblast?",
         "answerable": True, "answers": ["Babushkina Krynka"],
         "evidence": ["one of Belarus' leading milk processing companies Babushkina Krynka"]},
        {"id": "2", "question": "What is the population of Astrakhan Oblast?", "answerable": False,
         "answers": [], "evidence": []},
    ]), encoding="utf-8")
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

    worse = tmp_path / "worse.json"
    worse.write_text(json.dumps({**metrics, "hit_at_5": 0.5}))
    compare = subprocess.run([sys.executable, "-m", "rag", "eval", "compare", str(out / "metrics.json"),
                              str(worse)], capture_output=True, text=True, env=env, timeout=60)
    assert compare.returncode == 0
    line = next(row for row in compare.stdout.splitlines() if "hit_at_5" in row)
    assert "-0.5 worse" in line

    floors = tmp_path / "floors.json"
    floors.write_text(json.dumps({"min": {"hit_at_5": 1.1}}))
    gated = subprocess.run([sys.executable, "-m", "rag", "eval", "--dataset", str(dataset), "--corpus",
                            str(SEEDS), "--out", str(out), "--floors", str(floors)],
                           capture_output=True, text=True, env=env, timeout=300)
    assert gated.returncode == 1 and "hit_at_5 = 1.0 is below its floor 1.1" in gated.stderr


