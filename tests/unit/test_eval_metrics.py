"""The eval's dataset loader, metric definitions and floors, on hand-made outcomes (the runs
themselves: tests/test_eval.py)."""

import json

from rag.evals.dataset import Question, Span, load_dataset
from rag.evals.metrics import METRIC_KEYS, Outcome, RankedChunk, compute
from rag.evals.runner import check_floors
from rag.types import Answer, Citation

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


def test_answer_recall_folds_typography_case_and_spacing_as_citations_do():
    from rag.evals.metrics import fact_recall

    expected = q("x", answers=(("“Oppenheimer”",), ("New  York",)))
    assert fact_recall(expected, 'The film "oppenheimer" won in new\nyork.') == 1.0
    assert fact_recall(expected, "The film Oppenheimer won.") == 0.0  # the quotes are part of the answer
