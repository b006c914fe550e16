from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

import click

from rag.cli.common import F, as_of_option, date_option, get_pipeline, json_safe, say, user_errors

if TYPE_CHECKING:
    from datetime import datetime

    from rag.config import Mode, RetrievalMethod
    from rag.types import Answer, Final, Retrieval, Token

# rag.pipeline and rag.types are imported inside the commands: they load pydantic, which
# `rag --help` should not pay for.


def _filter_options(fn: F) -> F:
    fn = click.option("--language", help="Only articles in this language (ISO 639-1, e.g. en, ru), "
                      "as detected at ingest.")(fn)
    fn = click.option("--source", help="Only articles from this source.")(fn)
    fn = date_option("--until", "Only articles published on or before this date.")(fn)
    fn = date_option("--since", "Only articles published on or after this date.")(fn)
    fn = as_of_option(fn)
    return click.option("--top-k", "-k", type=click.IntRange(1, 50), help="Chunks to retrieve.")(fn)


@click.command()
@click.argument("question")
@_filter_options
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.option("--mode", type=click.Choice(["auto", "extractive", "llm"]), default="auto", show_default=True,
              help="extractive: the articles' own sentences; llm: written by RAG_LLM_MODEL, quotes verified; "
                   "auto: llm when RAG_LLM_MODEL is set.")
def ask(question: str, top_k: int | None, since: str | None, until: str | None, source: str | None,
        language: str | None, as_of: datetime | None, as_json: bool, mode: Mode) -> None:
    """Answer QUESTION from the ingested articles, with numbered verbatim quotes.

    \b
    Example:
      rag ask "What did Belarus offer Astrakhan?" --since 2025-01-01
      rag ask "Which company is the latest to announce layoffs?" --as-of 2024-06-14
      RAG_LLM_BASE_URL=http://127.0.0.1:8080/v1 RAG_LLM_MODEL=qwen rag ask "..." --mode llm
    """
    from rag.pipeline import Filters

    if not question.strip():
        raise click.BadParameter("the question is empty", param_hint="QUESTION")
    pipeline = get_pipeline()
    with user_errors():
        events = pipeline.ask_stream(question, top_k, Filters(since, until, source, language), mode, as_of=as_of)
        answer = show_answer_text(events, live=sys.stdout.isatty() and not as_json, text=not as_json)
    if as_json:
        click.echo(json_safe(json.dumps(answer.model_dump(), ensure_ascii=False, indent=2)))
        return
    print_answer_details(answer)


def show_answer_text(events: Iterable[Token | Final | Retrieval], live: bool, text: bool = True) -> Answer:
    """Print answer text as it streams (when `live`), then make sure what stands on screen is the
    final, verified answer; return that answer."""
    from rag.types import Final, Token

    shown = ""
    try:
        for event in events:
            if isinstance(event, Final):
                answer = event.answer
            elif live and isinstance(event, Token):
                say(event.text, nl=False)
                shown += event.text
    finally:  # Ctrl-C: close the stream now, which closes the LLM's connection, so the model stops too
        close = getattr(events, "close", None)
        if close:
            close()
    if shown and shown != answer.answer:
        say("\n\n(The text above could not be verified; this answer replaces it.)")
        shown = ""
    if text:
        say(answer.answer if not shown else "")
    return answer


def print_answer_details(answer: Answer) -> None:
    """What a reader needs to trust the answer: warnings, then the numbered quotes."""
    v = answer.verification
    for sentence, why in zip(answer.unsupported, answer.unsupported_reasons or [""] * len(answer.unsupported),
                             strict=True):
        say(f"(!) Left out: “{sentence}”" + (f" ({why})" if why else " (not supported by the quoted sources)"))
    if v.dropped:
        say(f"(!) {v.dropped} of the {v.quotes_total} quotes the model gave were not in the articles "
                   "and were dropped.")
    if answer.notice:
        say(f"Note: {answer.notice}")
    if answer.confidence is not None and not answer.refused:
        say(f"Confidence: {int(answer.confidence * 100 + 0.5)}% (the calibrated probability that this answer is right)")
    if answer.as_of and answer.citations:
        say(f"(as of {answer.as_of}; each source's date is shown with it)")
    if answer.citations:
        say("\nSources:")
    kinds = {"reattributed": " (found in another source than the model said)",
             "repaired": " (the model paraphrased; this is the article's sentence)"}
    article = None
    for c in answer.citations:  # the title once per run of quotes from one article
        if c.article_id != article:
            article = c.article_id
            date = f" ({c.published_at})" if c.published_at else ""
            say(f"  {c.title}{date} [{c.article_id}]{language_mark(c.language)}")
        say(f"    [{c.n}] “{c.quote}” (chars {c.start}-{c.end}){kinds.get(c.kind, '')}")


def language_mark(language: str | None) -> str:
    """" · in Russian (ru)": the language of a source not in English, shown beside its title."""
    if not language or language == "en":
        return ""
    from rag.language import language_name

    return f" · in {language_name(language)} ({language})"


@click.command()
@click.argument("query")
@_filter_options
@click.option("--explain", is_flag=True, help="Show each chunk's dense rank, lexical rank and fused score.")
@click.option("--retrieval", type=click.Choice(["dense", "lexical", "hybrid"]),
              help="Override RAG_RETRIEVAL for this search.")
def search(query: str, top_k: int | None, since: str | None, until: str | None, source: str | None,
           language: str | None, as_of: datetime | None, explain: bool, retrieval: RetrievalMethod | None) -> None:
    """Show the chunks retrieved for QUERY, best first, with their scores.

    \b
    Example:
      rag search "Babushkina Krynka" --explain
    """
    from rag.pipeline import Filters

    pipeline = get_pipeline()
    with user_errors():
        params = replace(pipeline.retriever.params, method=retrieval) if retrieval else None
        chunks = pipeline.retrieve(query, top_k or pipeline.settings.top_k,
                                   Filters(since, until, source, language), params, as_of)
    if explain:
        cue = pipeline.time_cue(query, as_of)
        say(f"time: {cue.describe() if cue else 'off (RAG_TIME_AWARE=false)'}")
        say(" rank  score    dense (rank)     bm25 (rank)  recency  published   chunk")
    for rank, c in enumerate(chunks, start=1):
        preview = " ".join(c.text.split())[:160]
        if explain:
            dense = f"{c.dense_score:.3f} ({_rank(c.dense_rank)})" if c.dense_score is not None else "-"
            lexical = (f"{c.lexical_score:.2f} ({_rank(c.lexical_rank)})" if c.lexical_score else "no match")
            recency = f"+{c.recency:.3f}" if c.recency is not None else "-"
            say(f"{rank:>5}  {c.score:.3f}  {dense:>14}  {lexical:>14}  {recency:>7}  "
                       f"{c.published_at or '?':<10}  {c.chunk_id} [{c.start}:{c.end}]")
            say(f"       {preview}")
        else:
            say(f"{rank:>2}. {c.score:.3f}  {c.chunk_id}  [{c.start}:{c.end}]\n    {preview}")


def _rank(rank: int | None) -> str:
    return f"#{rank}" if rank else "not in top"
