"""Answers are assembled here, whichever answerer wrote them: the `retrieved` list and the fixed
refusal have one definition each (the extractive answer is extractive.py's `extractive_answer`)."""

from __future__ import annotations

from collections.abc import Sequence

from rag.answering.refusals import REFUSAL
from rag.types import Answer, Retrieved, RetrievedChunk, Usage, Verification


def retrieved_of(chunks: Sequence[RetrievedChunk]) -> list[Retrieved]:
    return [Retrieved(chunk_id=c.chunk_id, article_id=c.article_id, score=round(c.score, 4)) for c in chunks]


def refusal(question: str, chunks: Sequence[RetrievedChunk], mode: str,
            verification: Verification = Verification(), notice: str | None = None,
            usage: Usage | None = None) -> Answer:
    return Answer(question=question, answer=REFUSAL, refused=True, mode=mode, citations=[],
                  retrieved=retrieved_of(chunks), verification=verification, notice=notice, usage=usage)
