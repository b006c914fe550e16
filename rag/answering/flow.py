"""How an answer is produced, for every answerer: the LLM answerers' common path (the evidence
gate, the focus on the sources worth sending, the extractive fallback) and `finish`, the one
step every answer passes before it is final.

An LLM answer: (1) the extractive evidence model decides whether what was retrieved can answer
the question; if not, its refusal is the answer and the model is not asked
(RAG_LLM_EVIDENCE_GATE); (2) the sources are built from the articles worth reading (sentences
mode: those the extractive answer quotes, `focus`); (3) the answerer's own `reply` asks the
model and checks what it says; (4) when the model cannot be used or verified, the extractive
answer is shown instead (`fallback`, mode "extractive-fallback").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from rag import tuning
from rag.answering import checks
from rag.answering.build import refusal
from rag.answering.context import AnswerContext, Answerer
from rag.answering.evidence import answer_type
from rag.answering.extractive import extractive_answer
from rag.answering.selection import Extract
from rag.answering.sources import Source, build_sources, confident, excerpt_sources
from rag.types import Answer, Final, RetrievedChunk, Token


def answer_events(answerer: Answerer, ctx: AnswerContext) -> Iterator[Token | Final]:
    """The answerer's events, its `Final` passed through `finish`."""
    for event in answerer.stream(ctx):
        yield Final(answer=finish(event.answer, ctx)) if isinstance(event, Final) else event


def finish(answer: Answer, ctx: AnswerContext) -> Answer:
    """The one place an answer is finalised, whichever answerer wrote it: its confidence.

    An extractive answer (or fallback) carries the confidence of its own evidence. An LLM answer
    gets the extractive evidence's, lowered (tuning.DISAGREEMENT) when the two disagree: it cites
    none of the extractive answer's sentences, or names a person, name or figure they do not hold
    (`_agrees`); one then below RAG_MIN_CONFIDENCE is replaced by the extractive answer, or
    refused when there is none."""
    if answer.confidence is not None:
        return answer
    found = ctx.found
    sure = found.confidence
    if not answer.refused and not found.refused and not _agrees(answer, found, ctx.question):
        sure *= tuning.DISAGREEMENT
    answer = answer.model_copy(update={"confidence": round(sure, 4)})
    if answer.refused or sure >= ctx.settings.min_confidence:
        return answer
    why = f"confidence {sure:.2f} < {ctx.settings.min_confidence}"
    if not found.refused:
        return fallback(ctx, f"The LLM's answer disagrees with the sentences that answer best ({why}); these are "
                        "the articles' own sentences.").model_copy(update={"usage": answer.usage})
    return refusal(ctx.question, ctx.chunks, answer.mode, answer.verification, f"Refused: {found.reason or why}.",
                   answer.usage).model_copy(update={"confidence": answer.confidence,
                                                    "unsupported": answer.unsupported,
                                                    "unsupported_reasons": answer.unsupported_reasons})


def _agrees(answer: Answer, found: Extract, question: str) -> bool:
    """The answer rests on what the extractive answer chose: it cites one of its sentences or a
    neighbour (within 200 characters), and for a question asking for a thing (a person, a name, a
    number, a date), what it names is in those sentences."""
    if not any(c.article_id == s.chunk.article_id and c.start < s.end + 200 and c.end > s.start - 200
               for c in answer.citations for s in found.sentences):
        return False
    need = checks.expected(question) or answer_type(question)
    if need not in ("person", "name", "count", "number", "date", "duration"):
        return True
    plain = re.sub(r"\s*\[\d+\]", "", answer.answer)
    return checks.agree(plain, " ".join(s.text for s in found.sentences), question)


def gate(ctx: AnswerContext) -> Answer | None:
    """The evidence model's refusal when it refuses (and the gate is on), else None: the model is
    not asked, since a small model answers a neighbouring story from near-miss articles, with
    quotes that verify."""
    if ctx.settings.llm_evidence_gate and ctx.found.refused_by_evidence:
        return extractive_answer(ctx.question, ctx.chunks, ctx.found, "llm")
    return None


def focus(chunks: Sequence[RetrievedChunk], found: Extract, margin: float, max_articles: int) -> list[RetrievedChunk]:
    """The chunks of the articles the extractive answer quotes (at most `max_articles`; 0: no
    limit), else those retrieval is sure of (`confident`). One article for a question about one
    story: the shortest prompt, and the same prefix for every question about that story, so a
    server's prompt cache skips its prefill."""
    quoted = list(dict.fromkeys(c.chunk.article_id for c in found.sentences))
    if max_articles:
        quoted = quoted[:max_articles]
    if found.refused or not quoted:
        return confident(chunks, margin, max_articles)
    return [c for c in chunks if c.article_id in quoted]


def sources(ctx: AnswerContext, focused: bool) -> list[Source]:
    """The numbered sources the model reads: the extractive answer's sentences and their
    neighbours (RAG_LLM_CONTEXT=extract, sentences mode), else the focused chunks' articles, or
    all retrieved chunks."""
    s = ctx.settings
    if focused and s.llm_context == "extract" and not ctx.found.refused:
        picked = [(c.chunk, c.start, c.end) for c in ctx.found.sentences]
        excerpts = excerpt_sources(picked, ctx.articles.text, s.llm_neighbours)
        if excerpts:
            return excerpts
    shown = focus(ctx.chunks, ctx.found, s.llm_source_margin, s.llm_source_articles) if focused else ctx.chunks
    return build_sources(shown, ctx.articles.text, ctx.count_tokens, s.llm_context_tokens,
                         s.llm_whole_article_tokens)


def fallback(ctx: AnswerContext, notice: str) -> Answer:
    """The extractive answer in the LLM's place (mode extractive-fallback), saying why."""
    return extractive_answer(ctx.question, ctx.chunks, ctx.found, "extractive-fallback").model_copy(
        update={"notice": notice})


class LLMAnswerer:
    """An LLM answerer's frame: gate, then sources, then the subclass's `reply`."""

    focused = False  # send only the articles the extractive answer quotes (sentences mode)

    def stream(self, ctx: AnswerContext) -> Iterator[Token | Final]:
        refused = gate(ctx)
        if refused is not None:
            yield Final(answer=refused)
            return
        yield from self.reply(ctx, sources(ctx, self.focused))

    def reply(self, ctx: AnswerContext, sources: Sequence[Source]) -> Iterator[Token | Final]:
        raise NotImplementedError
