"""Answering: from a question and its retrieved chunks to an `Answer` whose every claim is quoted.

Where things are:
- context.py   `AnswerContext` (what an answerer may use) and the `Answerer` protocol
- extractive.py  the offline answerer: the articles' own sentences (selection.py chooses them)
- sentences.py   an LLM citing numbered sentences (RAG_LLM_CITATIONS=sentences, the default)
- quotes.py      an LLM copying its quotes (RAG_LLM_CITATIONS=quotes), checked by verify.py
- flow.py      the LLM answerers' evidence gate, source focus and fallback; `finish`
- evidence.py  does the evidence answer the question? (the fitted refusal model)
- claims.py, relevance.py  does an answer sentence rest on its citations, about this question?
- sources.py, prompts.py, reply.py  what the model reads, is told, and writes back
- build.py, refusals.py  the answer's shared parts and the fixed refusal
- followup.py  follow-up questions made standalone
Every threshold and fitted coefficient is in rag/tuning.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.answering.context import Answerer
    from rag.config import AnswerMode, Settings


def answerer_for(mode: AnswerMode, settings: Settings) -> Answerer:
    """The answerer for a resolved mode: extractive, or the LLM in the settings' citation style.
    Imported on use: the LLM answerers load numpy-backed scoring only LLM answers need."""
    if mode == "extractive":
        from rag.answering.extractive import ExtractiveAnswerer

        return ExtractiveAnswerer()
    if settings.llm_citations == "sentences":
        from rag.answering.sentences import SentencesAnswerer

        return SentencesAnswerer()
    from rag.answering.quotes import QuotesAnswerer

    return QuotesAnswerer()
