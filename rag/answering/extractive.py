"""The extractive answerer: the articles' own sentences, chosen by selection.py, quoted verbatim
with their offsets. Offline, verified and supported by construction; also the LLM answerers'
fallback (flow.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from rag.answering.build import refusal, retrieved_of
from rag.answering.context import AnswerContext
from rag.answering.selection import Candidate, Extract, Params, extract
from rag.hygiene import inert_markers
from rag.types import Answer, Citation, Final, RetrievedChunk, Token, Verification

__all__ = ["Candidate", "Extract", "ExtractiveAnswerer", "Params", "extract", "extractive_answer"]


def extractive_answer(question: str, chunks: Sequence[RetrievedChunk], result: Extract,
                      mode: str = "extractive") -> Answer:
    """The answer `result` makes: its sentences, each cited, or the refusal and its reason."""
    if result.refused:
        return refusal(question, chunks, mode, notice=f"Refused: {result.reason}.").model_copy(
            update={"confidence": result.confidence})
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
                  retrieved=retrieved_of(chunks), verification=verification, confidence=result.confidence)


class ExtractiveAnswerer:
    """The whole answer at once: one `Token` (none for a refusal), then the `Final`."""

    def stream(self, ctx: AnswerContext) -> Iterator[Token | Final]:
        answer = extractive_answer(ctx.question, ctx.chunks, ctx.found)
        if not answer.refused:
            yield Token(text=answer.answer)
        yield Final(answer=answer)
