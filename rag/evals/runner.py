"""Run a dataset against a fresh, isolated store and write metrics.json and answers.jsonl."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.answering.evidence import answer_type
from rag.config import Settings
from rag.evals.dataset import Dataset, load_dataset, sample
from rag.evals.metrics import (
    RANK_DEPTH,
    Metrics,
    Outcome,
    RankedChunk,
    compute,
    fact_recall,
    first_hit_rank,
    is_right,
    reason_kind,
    scalar,
    verdict,
)
from rag.evals.plot import risk_coverage_png, risk_coverage_svg
from rag.evals.report import citation_context
from rag.loaders import load_paths
from rag.pipeline import Mode, Pipeline
from rag.types import Answer, Retrieval, final_answer


@dataclass
class EvalRun:
    metrics: Metrics
    dataset: Dataset
    outcomes: list[Outcome]
    corpus_errors: list[str]
    texts: dict[str, str] = field(default_factory=dict)  # article id -> text, for quote contexts


def run_eval(
    dataset_path: Path,
    corpus_paths: Sequence[Path],
    settings: Settings,
    top_k: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    pipeline_factory: Callable[[Settings], Pipeline] = Pipeline.from_settings,
    mode: Mode = "extractive",
    use_history: bool = True,
    sample_size: int | None = None,
) -> EvalRun:
    """`sample_size`: answer only that many questions (dataset.sample), for slow runs."""
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as tmp:
        # A fresh embedded store, whatever RAG_DATA_DIR / RAG_CHROMA_URL say.
        isolated = settings.model_copy(update={"data_dir": Path(tmp), "chroma_url": None})
        pipeline = pipeline_factory(isolated)
        loaded = load_paths(corpus_paths, isolated.max_file_bytes)
        report = pipeline.ingest(loaded.articles, loaded.errors)
        corpus_errors = [f"{where}: {detail}" for where, status, detail in report.results if status == "failed"]
        texts = {a.id: a.text for a in loaded.articles}
        dataset = load_dataset(dataset_path, texts)
        if sample_size is not None:
            dataset = Dataset(sample(dataset.questions, sample_size), dataset.errors)

        outcomes = []
        for i, q in enumerate(dataset.questions):
            t0 = time.perf_counter()
            history = [("user", h) for h in q.history] if use_history else []
            # What users run: ask_stream, with the ranking RANK_DEPTH deep for hit@k and MRR.
            events = list(pipeline.ask_stream(q.question, top_k, mode=mode, history=history, as_of=q.as_of,
                                              rank_depth=RANK_DEPTH))
            answer = final_answer(events)
            latency = (time.perf_counter() - t0) * 1000
            chunks = next(e.chunks for e in events if isinstance(e, Retrieval))
            ranking = [RankedChunk(c.article_id, c.start, c.end, c.text) for c in chunks]
            outcomes.append(Outcome(q, answer, ranking, latency))
            if progress:
                progress(i + 1, len(dataset.questions))
        return EvalRun(compute(outcomes, texts), dataset, outcomes, corpus_errors, texts)


def write_results(run: EvalRun, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(run.metrics, indent=2) + "\n", encoding="utf-8")
    curve = run.metrics.get("risk_coverage")
    (out_dir / "risk_coverage.svg").write_text(risk_coverage_svg(curve), encoding="utf-8")
    risk_coverage_png(curve, str(out_dir / "risk_coverage.png"))  # when matplotlib is installed
    with (out_dir / "answers.jsonl").open("w", encoding="utf-8") as f:
        for record in answer_records(run):
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def answer_records(run: EvalRun) -> list[dict[str, Any]]:
    """answers.jsonl's records: each answer, how it was graded, and its quotes' article context."""
    records = []
    for o in run.outcomes:
        text_of = run.texts.get
        records.append({
            "id": o.question.id,
            "type": o.question.type,
            "answerable": o.question.answerable,
            "first_hit_rank": first_hit_rank(o.question, o.ranking) if o.question.answerable else None,
            "answer_recall": fact_recall(o.question, "" if o.answer.refused else o.answer.answer),
            "right": is_right(o),
            "verdict": verdict(o),
            "expected": ["|".join(fact) for fact in o.question.answers],
            "as_of": o.question.as_of.isoformat() if o.question.as_of else None,
            "latency_ms": round(o.latency_ms, 2),
            "expected_type": answer_type(o.question.question),
            "refusal_reason": refusal_reason(o.answer),
            **o.answer.model_dump(),
            "citation_context": [{"n": c.n, **citation_context(text_of(c.article_id, ""), c.start, c.end)}
                                 for c in o.answer.citations],
            **({"judge": o.judge} if o.judge is not None else {}),
        })
    return records


def refusal_reason(answer: Answer) -> str | None:
    """Why an answer was refused, as its notice says (None when it was not refused)."""
    if not answer.refused:
        return None
    return (answer.notice or "no reason given").removeprefix("Refused: ").rstrip(".")



def why_summary(run: EvalRun) -> list[str]:
    """Readable lines: refusals by reason (answerable / unanswerable questions), and the answer
    recall of answered questions by the answer type they expected."""
    reasons: dict[str, list[int]] = {}
    for o in run.outcomes:
        reason = refusal_reason(o.answer)
        if reason is not None:
            reasons.setdefault(reason_kind(reason), [0, 0])[0 if o.question.answerable else 1] += 1
    lines = [f"  {a:4d} answerable, {u:4d} unanswerable: {reason}"
             for reason, (a, u) in sorted(reasons.items(), key=lambda kv: -sum(kv[1]))]
    by_type: dict[str, list[float]] = {}
    for o in run.outcomes:
        recall = fact_recall(o.question, "" if o.answer.refused else o.answer.answer)
        if o.question.answerable and recall is not None:
            by_type.setdefault(answer_type(o.question.question) or "any", []).append(recall)
    typed = [f"  {t}: answer recall {sum(v) / len(v):.2f} over {len(v)} questions" for t, v in sorted(by_type.items())]
    return (["refusals by reason:", *lines] if lines else []) + (["by expected answer type:", *typed] if typed else [])


def check_floors(metrics: Metrics, floors: dict[str, dict[str, float]]) -> list[str]:
    """Breaches of `{"min": {...}, "max": {...}}`; a None metric with a floor is a breach too.
    A key may name a scalar inside a dict metric: `calibration.brier`."""
    breaches = []
    for key, bound in floors.get("min", {}).items():
        value = scalar(metrics, key)
        if value is None or value < bound:
            breaches.append(f"{key} = {value} is below its floor {bound}")
    for key, bound in floors.get("max", {}).items():
        value = scalar(metrics, key)
        if value is None or value > bound:
            breaches.append(f"{key} = {value} is above its ceiling {bound}")
    return breaches
