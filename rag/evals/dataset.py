"""Eval datasets: JSONL, one question a line. See evals/README.md for the format."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rag.citations import Normalised, locate, normalise
from rag.timecues import parse_as_of


@dataclass(frozen=True)
class Span:
    article_id: str
    start: int
    end: int

    def overlaps(self, article_id: str, start: int, end: int) -> bool:
        return self.article_id == article_id and start < self.end and self.start < end


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answerable: bool
    answers: tuple[tuple[str, ...], ...]   # facts, each a tuple of acceptable alternatives
    evidence: tuple[str, ...]
    spans: tuple[tuple[Span, ...], ...] = ()  # per evidence passage, where it occurs
    type: str = ""
    history: tuple[str, ...] = ()  # earlier user questions, for follow-ups
    as_of: datetime | None = None  # when it was asked ("this week" means the week before); None: now


@dataclass
class Dataset:
    questions: list[Question]
    errors: list[str]


def load_dataset(path: Path, corpus: dict[str, str]) -> Dataset:
    """Parse `path`; locate evidence in `corpus` (article id -> text). Bad lines become errors."""
    hay = {article_id: normalise(text) for article_id, text in corpus.items()}
    questions: list[Question] = []
    errors: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
            if number == 1 and isinstance(record, dict) and set(record) == {"header"}:
                continue  # a generated set's header: its generator, version and settings
            question = _parse(record)
        except (json.JSONDecodeError, ValueError, TypeError) as exc:
            errors.append(f"{where}: {exc}")
            continue
        if question.id in seen:
            errors.append(f"{where}: duplicate id {question.id!r}")
            continue
        seen.add(question.id)
        spans, missing = _locate_evidence(question.evidence, corpus, hay)
        if missing:
            errors.append(f"{where}: evidence not found in the corpus: {missing[0][:80]!r}")
            continue
        questions.append(Question(**{**question.__dict__, "spans": spans}))
    return Dataset(questions, errors)


def sample(questions: list[Question], n: int) -> list[Question]:
    """A deterministic sample of `n` questions for slow runs (a real LLM): the questions ranked by
    the SHA-1 of their id, half answerable and half not when the dataset has both, in dataset order.
    The same ids come out on every machine, and a question's pick does not depend on the others."""
    ranked = sorted(questions, key=lambda q: hashlib.sha1(q.id.encode("utf-8")).hexdigest())
    answerable = [q for q in ranked if q.answerable]
    unanswerable = [q for q in ranked if not q.answerable]
    if answerable and unanswerable:
        half = min(n // 2, len(unanswerable))
        picked = unanswerable[:half] + answerable[:n - half]
        picked += unanswerable[half:half + n - len(picked)]
    else:
        picked = ranked[:n]
    chosen = {q.id for q in picked}
    return [q for q in questions if q.id in chosen]


def _parse(record: object) -> Question:
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    for key, kind in (("id", str), ("question", str), ("answerable", bool)):
        if not isinstance(record.get(key), kind):
            raise ValueError(f"field {key!r} must be a {kind.__name__}")
    answers = record.get("answers", [])
    evidence = record.get("evidence", [])
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        raise ValueError("field 'answers' must be a list of non-empty strings")
    if not isinstance(evidence, list) or not all(isinstance(e, str) and e.strip() for e in evidence):
        raise ValueError("field 'evidence' must be a list of non-empty strings")
    if not record["question"].strip():
        raise ValueError("field 'question' is empty")
    history = record.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, str) and h.strip() for h in history):
        raise ValueError("field 'history' must be a list of earlier questions")
    as_of = record.get("as_of")
    if as_of is not None and not isinstance(as_of, str):
        raise ValueError("field 'as_of' must be a string (YYYY-MM-DD or YYYY-MM-DDTHH:MM)")
    facts = tuple(tuple(alt.strip() for alt in a.split("|") if alt.strip()) for a in answers)
    return Question(id=record["id"], question=record["question"], answerable=record["answerable"],
                    answers=facts, evidence=tuple(evidence), type=str(record.get("type", "")),
                    history=tuple(history), as_of=parse_as_of(as_of) if as_of else None)


def _locate_evidence(evidence: tuple[str, ...], corpus: dict[str, str],
                     hay: dict[str, Normalised]) -> tuple[tuple[tuple[Span, ...], ...], list[str]]:
    spans: list[tuple[Span, ...]] = []
    missing: list[str] = []
    for passage in evidence:
        found = tuple(
            Span(article_id, *where)
            for article_id, text in corpus.items()
            if (where := locate(text, passage, hay[article_id])) is not None
        )
        if found:
            spans.append(found)
        else:
            missing.append(passage)
    return tuple(spans), missing
