"""LLM answers that copy their quotes (RAG_LLM_CITATIONS=quotes): numbered sources in, verified
citations out, answer text streamed in between.

The model writes its quotes first. When its ANSWER header arrives the quotes are verified
(verify.py) and numbered as the user will see them; only then does answer text flow, with the
model's [n] markers rewritten to those numbers. When the reply ends, each answer sentence is
checked against the citations it rests on (claims.supported). An answer with no supported
sentence is not presented: a model that refused gets the fixed refusal; one that answered
without support falls back to the extractive answer when that finds one. The `Final` event
is authoritative; the tokens before it are a preview.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from rag.answering.build import refusal, retrieved_of
from rag.answering.claims import CachedEmbed, ClaimParams, negations, supported
from rag.answering.context import AnswerContext
from rag.answering.flow import LLMAnswerer, fallback
from rag.answering.prompts import answer_messages
from rag.answering.refusals import is_refusal
from rag.answering.relevance import unanswered
from rag.answering.reply import ReplySplitter, parse_quotes, parse_reply
from rag.answering.sources import Source
from rag.answering.verify import Checked, QuoteVerifier
from rag.llm_client import LLMUnavailable
from rag.sentences import split_sentences
from rag.terms import content_terms
from rag.types import Answer, Citation, Final, Token, Usage, Verification

_MARKER = re.compile(r"\[\s*(?:sources?\s*)?(\d+(?:\s*[,;]\s*(?:sources?\s*)?\d+)*)\s*\]", re.I)
_OPEN_MARKER = re.compile(r"\[[^\]\n]{0,24}$")


class MarkerMapper:
    """Rewrites the model's [n] (or [Source n]) markers to citation numbers, across pieces."""

    def __init__(self, mapping: dict[int, list[int]]) -> None:
        self.mapping = mapping
        self.pending = ""

    def feed(self, piece: str) -> str:
        text = self.pending + piece
        held = _OPEN_MARKER.search(text)
        self.pending = text[held.start():] if held else ""
        return self._map(text[: held.start()] if held else text)

    def flush(self) -> str:
        text, self.pending = self.pending, ""
        return self._map(text)

    def _map(self, text: str) -> str:
        def replace(m: re.Match[str]) -> str:
            numbers = [int(x) for x in re.findall(r"\d+", m.group(1))]
            mapped = dict.fromkeys(n for x in numbers for n in self.mapping.get(x, []))
            return "".join(f"[{n}]" for n in mapped)

        return _MARKER.sub(replace, text)


def map_markers(text: str, mapping: dict[int, list[int]]) -> str:
    mapper = MarkerMapper(mapping)
    return mapper.feed(text) + mapper.flush()


class QuotesAnswerer(LLMAnswerer):
    """The model copies its quotes, then answers; the quotes are verified before any text shows."""

    def reply(self, ctx: AnswerContext, sources: Sequence[Source]) -> Iterator[Token | Final]:
        usage: list[Usage] = []
        for event in _answer_with_quotes(ctx, sources, usage):
            if isinstance(event, Final) and usage:
                event = Final(answer=event.answer.model_copy(update={"usage": usage[-1]}))
            yield event


def _answer_with_quotes(ctx: AnswerContext, sources: Sequence[Source], usage: list[Usage]) -> Iterator[Token | Final]:
    question, chunks, texts = ctx.question, ctx.chunks, ctx.articles.texts
    claims = ClaimParams()
    if not sources:
        yield Final(answer=refusal(question, chunks, "llm"))
        return
    verifier = QuoteVerifier(sources, texts, ctx.embed, claims)
    splitter = ReplySplitter()
    mapper: MarkerMapper | None = None
    checked_at_header = False
    streamed = False

    def on_retry() -> None:
        if streamed:
            raise LLMUnavailable("the LLM's reply broke off mid-answer")
        splitter.reset()

    try:
        messages = answer_messages(question, sources, ctx.when.prompt_day)
        for piece in ctx.client.stream(messages, ctx.time_left(), on_retry,
                                       on_usage=lambda p, c: usage.append(Usage(prompt_tokens=p, completion_tokens=c))):
            fresh = splitter.feed(piece)
            if splitter.answer_start is not None and not checked_at_header:
                checked_at_header = True
                checked = [verifier.check(q) for q in parse_quotes(splitter.quotes_section())]
                citations, mapping = _number(checked, sources, texts, ctx.chunk_id_at, by_source=False)
                # With nothing verified no answer text can be shown; the reply is still read to the end.
                mapper = MarkerMapper(mapping) if citations else None
            if mapper and fresh:
                out = mapper.feed(fresh)
                if out:
                    streamed = True
                    yield Token(text=out)
    except LLMUnavailable as exc:
        yield Final(answer=fallback(ctx, f"The LLM was not used ({exc}); these are the articles' own sentences."))
        return
    if mapper:
        tail = mapper.flush()
        if tail:
            yield Token(text=tail)

    reply = parse_reply(splitter.text)
    checked = [verifier.check(q) for q in reply.quotes]
    citations, mapping = _number(checked, sources, texts, ctx.chunk_id_at, by_source=reply.markers == "sources")
    text = _tidy(map_markers(reply.answer, mapping))
    verification, unsupported = _check_sentences(question, text, citations, checked, ctx, claims)
    claims_hold = verification.sentences_total == 0 or verification.unsupported_sentences < verification.sentences_total
    refused_only = is_refusal(reply.answer) and verification.sentences_total == 0  # quotes, then "do not say"
    if citations and claims_hold and not refused_only:  # ("Machinery [1]." makes no claim of its own; its quote does)
        cited = {c.article_id for c in citations}
        why_not = unanswered(question, [c.quote for c in citations],
                             [f"{s.title}\n{texts.get(s.article_id, s.text)}" for s in sources
                              if s.article_id in cited], cited, chunks)
        if why_not:
            notice = f"The model's answer rests on quotes that do not answer this question ({why_not})."
            yield Final(answer=refusal(question, chunks, "llm", verification, notice))
            return
        yield Final(answer=Answer(question=question, answer=text, refused=False, mode="llm", citations=citations,
                                  retrieved=retrieved_of(chunks), verification=verification, unsupported=unsupported))
        return
    if is_refusal(reply.answer) or (not reply.quotes and negations(reply.answer)):  # refused, or hedged
        yield Final(answer=refusal(question, chunks, "llm", verification))
        return
    dropped = verification.dropped
    why = f"{dropped} of its {verification.quotes_total} quotes were not in the articles" if dropped else \
        "its sentences were not supported by its quotes"
    instead = fallback(ctx, f"The LLM's answer could not be verified ({why}); these are the articles' own sentences.")
    if instead.refused:
        yield Final(answer=refusal(question, chunks, "llm", verification))
    else:
        yield Final(answer=instead)


def _number(checked: Sequence[Checked], sources: Sequence[Source], texts: dict[str, str],
            chunk_id_at: Callable[[str, int, int], str], by_source: bool
            ) -> tuple[list[Citation], dict[int, list[int]]]:
    """Citations numbered in the model's quote order (one per span, duplicates merged), and the
    map from the model's markers (quote numbers, or source numbers) to them."""
    meta = {s.article_id: s for s in sources}
    citations: list[Citation] = []
    seen: dict[tuple[str, int, int], int] = {}
    mapping: dict[int, list[int]] = {}
    for item in checked:
        key_number = item.draft.source if by_source else item.draft.number
        for span in item.spans:
            key = (span.article_id, span.start, span.end)
            if key not in seen:
                seen[key] = len(citations) + 1
                source = meta[span.article_id]
                citations.append(Citation(
                    n=seen[key], article_id=span.article_id, chunk_id=chunk_id_at(*key), title=source.title,
                    published_at=source.published_at, quote=texts[span.article_id][span.start:span.end],
                    start=span.start, end=span.end, kind=span.kind))
            if key_number is not None:
                mapping.setdefault(key_number, [])
                if seen[key] not in mapping[key_number]:
                    mapping[key_number].append(seen[key])
    return citations, mapping


def _check_sentences(question: str, text: str, citations: Sequence[Citation], checked: Sequence[Checked],
                     ctx: AnswerContext, claims_params: ClaimParams) -> tuple[Verification, list[str]]:
    kinds = [s.kind for c in checked for s in c.spans[:1]]
    counts = {k: kinds.count(k) for k in ("verbatim", "reattributed", "repaired")}
    quotes = {c.n: c.quote for c in citations}
    claims = []
    for start, end in split_sentences(text):
        sentence = text[start:end]
        plain = _MARKER.sub("", sentence).strip()
        if len(content_terms(plain)) < 2:
            continue  # "Yes." is not a claim
        cited = [quotes[int(n)] for m in _MARKER.finditer(sentence) for n in re.findall(r"\d+", m.group(1))
                 if int(n) in quotes]
        claims.append((plain, cited or list(quotes.values())))
    embed = CachedEmbed(ctx.embed) if ctx.embed else None
    if embed:  # one model call for every sentence and quote of the answer
        embed.prefetch([plain for plain, _ in claims] + list(quotes.values()))
    unsupported = [plain for plain, cited in claims if not supported(plain, cited, embed, claims_params, question)]
    total = len(claims)
    verification = Verification(
        quotes_total=len(checked), verified=counts["verbatim"], reattributed=counts["reattributed"],
        repaired=counts["repaired"], dropped=sum(1 for c in checked if not c.spans),
        sentences_total=total, unsupported_sentences=len(unsupported))
    return verification, unsupported


def _tidy(text: str) -> str:
    """Markers that mapped to nothing leave stray spaces before punctuation."""
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", text).strip()
