"""Answers are assembled here, whichever answerer wrote them: the `retrieved` list, the fixed
refusal and the extractive answer (also the LLM path's fallback) have one definition each."""

from __future__ import annotations

from collections.abc import Sequence

from rag.answering.extractive import Extract
from rag.answering.prompts import REFUSAL
from rag.hygiene import inert_markers
from rag.types import Answer, Citation, Retrieved, RetrievedChunk, Usage, Verification


def retrieved_of(chunks: Sequence[RetrievedChunk]) -> list[Retrieved]:
    return [Retrieved(chunk_id=c.chunk_id, article_id=c.article_id, score=round(c.score, 4)) for c in chunks]


def refusal(question: str, chunks: Sequence[RetrievedChunk], mode: str,
            verification: Verification = Verification(), notice: str | None = None,
            usage: Usage | None = None) -> Answer:
    return Answer(question=question, answer=REFUSAL, refused=True, mode=mode, citations=[],
                  retrieved=retrieved_of(chunks), verification=verification, notice=notice, usage=usage)


def extractive(question: str, chunks: Sequence[RetrievedChunk], result: Extract, mode: str = "extractive") -> Answer:
    if result.refused:
        return refusal(question, chunks, mode, notice=f"Refused: {result.reason}.")
    citations = [
        Citation(n=n, article_id=s.chunk.article_id, chunk_id=s.chunk.chunk_id, title=s.chunk.title,
                 published_at=s.chunk.published_at, quote=s.text, start=s.start, end=s.end)
        for n, s in enumerate(result.sentences, start=1)
    ]
    # A "[2]" inside an article's sentence must not pass for a marker: it is written ［2］.
    text = " ".join(f"{inert_markers(c.quote)} [{c.n}]" for c in citations)
    # Extractive answers are the articles' own sentences: verified and supported by construction.
    verification = Verification(quotes_total=len(citations), verified=len(citations), sentences_total=len(citations))
    return Answer(question=question, answer=text, refused=False, mode=mode, citations=citations,
                  retrieved=retrieved_of(chunks), verification=verification)
