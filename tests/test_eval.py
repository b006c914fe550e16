import json
import os
import subprocess
import sys

from rag.evals.dataset import Question, Span, load_dataset
from rag.evals.metrics import METRIC_KEYS, Outcome, RankedChunk, compute
from rag.evals.runner import check_floors
from rag.types import Answer, Citation
from tests.conftest import SEEDS

TEXT = "Alpha said “yes” today. Beta went home. Gamma stayed."


def q(id_, answerable=True, answers=(), spans=()):
    return Question(id=id_, question="q?", answerable=answerable, answers=answers, evidence=(),
                    spans=spans)


def answer(text="", refused=False, citations=()):
    return Answer(question="q?", answer=text, refused=refused, mode="extractive",
                  citations=list(citations), retrieved=[])


def cite(start, end, n=1):
    return Citation(n=n, article_id="a", chunk_id="a::0", title="t", published_at=None,
                    quote=TEXT[start:end], start=start, end=end)


def test_dataset_reports_bad_lines_and_missing_evidence_and_keeps_the_rest(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join([
        json.dumps({"id": "ok", "question": "Who said yes?", "answerable": True,
                    "answers": ["Alpha|A."], "evidence": ['Alpha said "yes" today.'], "extra": 1}),
        "{not json",
        json.dumps({"id": "lost", "question": "x?", "answerable": True, "answers": ["x"],
                    "evidence": ["not in the corpus"]}),
        json.dumps({"id": "no-q", "answerable": True}),
    ]), encoding="utf-8")
    data = load_dataset(path, {"a": TEXT})
    assert [x.id for x in data.questions] == ["ok"]
    assert data.questions[0].spans == ((Span("a", 0, 23),),)
    assert data.questions[0].answers == (("Alpha", "A."),)
    assert any(e.startswith(f"{path}:2:") for e in data.errors)
    assert any(e.startswith(f"{path}:3:") and "evidence not found" in e for e in data.errors)
    assert any(e.startswith(f"{path}:4:") and "'question'" in e for e in data.errors)


def test_metrics_follow_their_definitions():
    alpha = (Span("a", 0, 23),)
    gamma = (Span("a", 39, 52),)
    ranking = [RankedChunk("a", 24, 38, "Beta went home."), RankedChunk("a", 0, 23, TEXT[:23])]
    outcomes = [
        Outcome(q("1", answers=(("alpha",), ("yes",)), spans=(alpha, gamma)),
                answer("Alpha said “yes” today. [1] Beta went home. [2]", citations=[cite(0, 23), cite(24, 38, 2)]),
                ranking, 10.0),
        Outcome(q("2", answers=(("gamma",),), spans=(gamma,)), answer("nope", refused=True), ranking, 30.0),
        Outcome(q("3", answerable=False), answer("nope", refused=True), [], 20.0),
    ]
    m = compute(outcomes, {"a": TEXT})
    assert set(m) == set(METRIC_KEYS)
    assert m["n_questions"] == 3
    assert m["hit_at_1"] == 0.0 and m["hit_at_5"] == 0.5
    assert m["mrr_at_10"] == 0.25  # question 1 hits at rank 2; question 2 never
    assert m["answer_recall"] == 0.5  # 2/2 facts, then 0 for the refusal
    assert m["citation_validity"] == 1.0
    assert m["citation_precision"] == 0.5
    assert m["citation_recall"] == round(1 / 3, 4)
    assert m["refusal_precision"] == 0.5 and m["refusal_recall"] == 1.0
    assert m["false_refusal_rate"] == 0.5
    assert m["latency_p50_ms"] == 20.0 and m["latency_p95_ms"] == 30.0


def test_metrics_with_nothing_to_measure_are_null():
    m = compute([Outcome(q("1", answers=(("x",),)), answer("x"), [], 1.0)], {"a": TEXT})
    assert m["refusal_recall"] is None and m["refusal_precision"] is None
    assert m["citation_validity"] is None and m["citation_precision"] is None
    assert m["false_refusal_rate"] == 0.0


def test_invalid_citation_is_counted():
    bad = Citation(n=1, article_id="a", chunk_id="a::0", title="t", published_at=None,
                   quote="Alpha said yes", start=0, end=14)
    m = compute([Outcome(q("1"), answer("x", citations=[bad]), [], 1.0)], {"a": TEXT})
    assert m["citation_validity"] == 0.0


def test_floors_catch_drops_ceilings_and_nulls():
    metrics = {"hit_at_5": 0.8, "false_refusal_rate": 0.3, "refusal_recall": None}
    floors = {"min": {"hit_at_5": 0.9, "refusal_recall": 0.1}, "max": {"false_refusal_rate": 0.2}}
    assert len(check_floors(metrics, floors)) == 3
    assert check_floors(metrics, {"min": {"hit_at_5": 0.8}}) == []


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
    # what users feel: right / wrong shown / refused, and the confidence curve (None until estimated)
    assert metrics["right_rate"] == 1.0 and metrics["wrong_shown_rate"] == 0.0
    assert metrics["answered_anyway_rate"] == 0.0 and metrics["shown_precision"] == 1.0
    assert metrics["coverage"] == 0.5
    assert metrics["aurc"] is None and metrics["risk_coverage"] is None and metrics["calibration"] is None
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


def test_answer_recall_folds_typography_case_and_spacing_as_citations_do():
    from rag.evals.metrics import fact_recall

    expected = q("x", answers=(("“Oppenheimer”",), ("New  York",)))
    assert fact_recall(expected, 'The film "oppenheimer" won in new\nyork.') == 1.0
    assert fact_recall(expected, "The film Oppenheimer won.") == 0.0  # the quotes are part of the answer


def test_rag_eval_grader_llm_and_report(tmp_path, fake_llm):  # type: ignore[no-untyped-def]
    """Both graders' numbers, the judge cached by model and messages, and the HTML report."""
    dataset = tmp_path / "d.jsonl"
    dataset.write_text("\n".join(json.dumps(r) for r in [
        {"id": "1", "question": "Which Belarusian milk processing company operates in Astrakhan Oblast?",
         "answerable": True, "answers": ["Babushkina Krynka"],
         "evidence": ["one of Belarus' leading milk processing companies Babushkina Krynka"]},
        {"id": "2", "question": "What is the population of Astrakhan Oblast?", "answerable": False,
         "answers": [], "evidence": []},
    ]), encoding="utf-8")
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
