"""LLM answers that cite numbered sentences (RAG_LLM_CITATIONS=sentences, the default).

The sources go to the model split into sentences, numbered [S1], [S2], ... across sources. The
model writes a short answer and ends each sentence with the numbers it rests on; it copies
nothing, so a citation is the numbered sentence itself: verbatim by construction, with exact
offsets, and the reply is a few dozen tokens instead of hundreds.

Each answer sentence is checked as soon as it is complete: its cited sentences must exist and
support it (claims.supported); the first supported one must also come from evidence that
answers the question (relevance.unanswered). Supported sentences stream at once; unsupported
ones are left out of the text and listed in `unsupported`. Nothing supported: the fixed refusal
when the model gave it, else the extractive answer (verified by construction).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from rag import tuning
from rag.answering import checks
from rag.answering.build import refusal, retrieved_of
from rag.answering.claims import CachedEmbed, ClaimParams, supported
from rag.answering.context import AnswerContext
from rag.answering.evidence import answer_type
from rag.answering.flow import LLMAnswerer, fallback
from rag.answering.prompts import sentence_messages
from rag.answering.refusals import says_refusal
from rag.answering.relevance import unanswered
from rag.answering.sources import Numbered, Source, number_sentences
from rag.llm_client import LLMUnavailable
from rag.terms import content_terms
from rag.types import Answer, Citation, Final, RetrievedChunk, Token, Usage, Verification

__all__ = ["Numbered", "SentencesAnswerer", "cut_reply", "number_sentences"]

# [S3], [S3, S5], [S3][S5], (S3), [3]: the numbers of the sentences an answer sentence rests on
_MARKER = re.compile(r"[\[(]\s*(S?\s*\d+(?:\s*(?:[,;]|and)\s*S?\s*\d+)*)\s*[\])]", re.I)
# A small model sometimes answers with bare numbers: "S19, S21 and S25."
_BARE = re.compile(r"\bS(\d+)\b")
# An answer sentence ends at . ! ? (and the markers after it) before whitespace, or at a newline.
_END = re.compile(r"[.!?][\"”’)]*(?:[ \t]*\[[^\]\n]*\])*[ \t]*(?:\n+|[ \t]+(?=\S)|$)|\n+")
_LABEL = re.compile(r"^\W*\w+(?:\s+\w+)?\s*:$")  # "ANSWER:", "Sources:": a header, not a claim
_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")  # a list line's bullet or number
# Hand-set (rag/tuning.py): an unmarked claim is attributed to at most ATTRIBUTE_MAX sentences,
# each sharing ATTRIBUTE_MIN_SHARED content terms with it; HINT_MIN extractive sentences make a
# list question's hint.
ATTRIBUTE_MAX = tuning.ATTRIBUTE_MAX
ATTRIBUTE_MIN_SHARED = tuning.ATTRIBUTE_MIN_SHARED
HINT_MIN = tuning.HINT_MIN


def cut_reply(text: str, final: bool) -> tuple[list[str], str]:
    """The complete sentences at the start of `text`, and the rest. A sentence is complete once
    text follows it (so markers written after its full stop are not cut off)."""
    out, at = [], 0
    for m in _END.finditer(text):
        rest = text[m.end():]
        if not final and (not rest.strip() or (rest.startswith("[") and "]" not in rest)):
            break
        out.append(text[at:m.end()].strip())
        at = m.end()
    if final and text[at:].strip():
        out.append(text[at:].strip())
        at = len(text)
    return [o for o in out if o], text[at:]


@dataclass
class _Said:
    plain: str  # without markers
    cited: list[int]  # valid sentence numbers
    invalid: int  # numbers that name no sentence
    claim: bool  # says something to check: a content term at least ("Tractors [S21]" is checked too)
    item: bool = False  # a list line ("- Tractors [S21]"): shown as one


@dataclass
class _Answer:
    """The answer as it is decided, sentence by sentence."""

    question: str
    chunks: Sequence[RetrievedChunk]
    numbered: dict[int, Numbered]
    ctx: AnswerContext
    embed: CachedEmbed | None
    accepted: list[_Said] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # why each unsupported sentence was left out
    invalid: int = 0
    cited_any: set[int] = field(default_factory=set)
    relevance: str | None = None  # why the evidence does not answer the question
    relevance_checked: bool = False
    refused: bool = False
    order: dict[int, int] = field(default_factory=dict)  # sentence number -> citation number
    shown: int = 0  # accepted sentences already streamed
    completed: int = 0  # list items added from the extractive answer's sentences (complete_list)
    terms_of: dict[int, set[str]] = field(default_factory=dict)  # content terms of numbered sentences

    claims: ClaimParams = field(default_factory=ClaimParams)

    @cached_property
    def asked(self) -> set[str]:
        return content_terms(self.question)

    @cached_property
    def wanted(self) -> str | None:
        """What the answer must hold to be shown: a number, a duration, a date or a person's name
        (checks.expected). A reason or the items are too loosely marked to refuse on (a list
        question may have one item); the confidence weighs them instead."""
        need = checks.expected(self.question) or ("count" if answer_type(self.question) == "number" else None)
        return need if need in checks.STRICT else None

    def drop(self, plain: str, reason: str) -> None:
        self.unsupported.append(plain)
        self.reasons.append(reason)

    def holds_wanted(self) -> bool:
        """The accepted answer so far holds the thing the question asks for (or nothing is asked)."""
        if self.wanted is None:
            return True
        said = " ".join(d.plain or " ".join(self.numbered[n].text for n in d.cited) for d in self.accepted)
        return checks.holds(said, self.wanted, self.question)

    def read(self, sentence: str) -> _Said:
        numbers = [int(n) for m in _MARKER.finditer(sentence) for n in re.findall(r"\d+", m.group(1))]
        rest = _MARKER.sub("", sentence)
        numbers += [int(n) for n in _BARE.findall(rest)]
        valid = list(dict.fromkeys(n for n in numbers if n in self.numbered))
        plain = re.sub(r"[ \t]+([.,;:!?])", r"\1", _BARE.sub("", rest)).strip()
        item = bool(_ITEM.match(plain))
        plain = _ITEM.sub("", plain).strip()
        if not re.search(r"\w", plain):
            plain = ""  # only numbers: the answer is the sentences themselves
        return _Said(plain, valid, len(numbers) - len([n for n in numbers if n in self.numbered]),
                     len(content_terms(plain)) >= 1, item)

    def take(self, sentence: str) -> None:
        said = self.read(sentence)
        self.invalid += said.invalid
        self.cited_any.update(said.cited)
        if says_refusal(said.plain):
            self.refused = True
            return
        if not said.cited and (not said.plain or not said.claim or _LABEL.match(said.plain)):
            return  # "Answer:" or "Yes." says nothing to check or show
        # A claim without numbers is judged at once against the sentences that say it, so the
        # stream never waits for the end of the reply.
        self._judge(said, said.cited or self.attribute(said.plain))

    def attribute(self, claim: str) -> list[int]:
        """The numbered sentences an unmarked claim draws on, for a reply that cites nothing (a
        small model sometimes drops the numbers): the one sharing most of its terms, then those
        that add terms it has, at most ATTRIBUTE_MAX. The support check then judges them as if
        the model had cited them."""
        terms = content_terms(claim)
        ranked = sorted(self.numbered, key=lambda n: (-len(terms & self._terms(n)), n))
        picked: list[int] = []
        covered: set[str] = set()
        for n in ranked:
            shared = terms & self._terms(n)
            if len(shared) < min(ATTRIBUTE_MIN_SHARED, len(terms)) or len(picked) == ATTRIBUTE_MAX:
                break
            if new := shared - covered:
                picked.append(n)
                covered |= new
        return picked

    def _terms(self, n: int) -> set[str]:
        if n not in self.terms_of:
            self.terms_of[n] = content_terms(self.numbered[n].text)
        return self.terms_of[n]

    def _judge(self, said: _Said, cited: list[int]) -> None:
        if said.plain and any(said.plain == done.plain for done in self.accepted):
            return  # a small model sometimes repeats a line
        if said.claim and content_terms(said.plain) <= self.asked:
            # "US households can order tests to detect which virus [S4]." says only what was asked;
            # the question's own words would count as its support.
            self.drop(said.plain, "it only restates the question")
            return
        quotes = [self.numbered[n].text for n in cited]
        if said.claim and not supported(said.plain, quotes, self.embed, self.claims, self.question):
            # A small model often cites the sentence next to the one it used: the claim is
            # re-attributed to the sentences that say it, under the same support check.
            found = self.attribute(said.plain)
            quotes = [self.numbered[n].text for n in found]
            if not found or found == cited or \
                    not supported(said.plain, quotes, self.embed, self.claims, self.question):
                self.drop(said.plain, "the sentences it cites do not say it")
                return
            cited = found
        if said.claim and (why := checks.misaligned(said.plain, " ".join(quotes), self.question)):
            # "lasted for 2 days [S1]" over "... in Minsk on 2 May": the figure's role differs.
            self.drop(said.plain, why)
            return
        if not self.relevance_checked and cited:
            self.relevance_checked = True
            articles = {self.numbered[n].source.article_id: self.numbered[n].source for n in cited}
            self.relevance = unanswered(self.question, quotes, [f"{s.title}\n{s.text}" for s in articles.values()],
                                        articles, self.chunks)
        for n in cited:
            self.order.setdefault(n, len(self.order) + 1)
        self.accepted.append(_Said(said.plain, cited, 0, said.claim, said.item))

    def text_of(self, said: _Said) -> str:
        if not said.plain:  # a reply of sentence numbers only (or a list item added): those sentences, cited
            text = " ".join(f"{' '.join(self.numbered[n].text.split())} [{self.order[n]}]" for n in said.cited)
            return f"- {text}" if said.item else text
        marks = "".join(f"[{self.order[n]}]" for n in said.cited)
        body = said.plain.rstrip()
        end = re.search(r"[.!?][\"”’)]*$", body)
        text = body if not marks else f"{body[:end.start()]} {marks}{body[end.start():]}" if end else f"{body} {marks}"
        return f"- {text}" if said.item else text

    def text(self, start: int = 0) -> str:
        """The accepted sentences from `start` on, as shown: list lines on lines of their own."""
        out = ""
        for i, said in enumerate(self.accepted[start:], start=start):
            out += ("\n" if said.item or self.accepted[i - 1].item else " ") if i else ""
            out += self.text_of(said)
        return out

    def complete_list(self, hints: Sequence[int]) -> None:
        """A list answer keeps every item the extractive answer found: a hinted sentence that no
        line of the model's cites becomes a line of its own, the sentence itself (a small model
        lists three of seven areas). Only when the model answered with a list and did not refuse."""
        if self.refused or not hints or not any(said.item for said in self.accepted) or self.relevance is not None:
            return
        for n in hints:
            if n not in self.order:
                self.order[n] = len(self.order) + 1
                self.accepted.append(_Said("", [n], 0, True, item=True))
                self.completed += 1

    def stream(self) -> str:
        """Answer text that may be shown now: accepted sentences once the evidence is relevant and
        they hold what the question asks for (a number, a date, the items, ...)."""
        if not self.relevance_checked or self.relevance is not None or self.refused or not self.holds_wanted():
            return ""
        start, self.shown = self.shown, len(self.accepted)
        return self.text(start)


class SentencesAnswerer(LLMAnswerer):
    """The model cites numbered sentences of the articles the extractive answer draws on."""

    focused = True

    def reply(self, ctx: AnswerContext, sources: Sequence[Source]) -> Iterator[Token | Final]:
        question, chunks = ctx.question, ctx.chunks
        if not sources:
            yield Final(answer=refusal(question, chunks, "llm"))
            return
        numbered = {s.n: s for s in number_sentences(sources, ctx.articles.texts)}
        embed = CachedEmbed(ctx.embed) if ctx.embed else None
        state = _Answer(question, chunks, numbered, ctx, embed)
        usage: list[Usage] = []
        buffer = reply = ""

        def on_retry() -> None:
            nonlocal buffer, reply, state
            if state.shown:
                raise LLMUnavailable("the LLM's reply broke off mid-answer")
            buffer, reply, state = "", "", _Answer(question, chunks, numbered, ctx, embed)

        hints = _hints(numbered, ctx)
        messages = sentence_messages(question, sources, list(numbered.values()), hints, ctx.when.prompt_day)
        try:
            for piece in ctx.client.stream(messages, ctx.time_left(), on_retry,
                                           max_tokens=ctx.settings.llm_answer_tokens,
                                           on_usage=lambda p, c: usage.append(Usage(prompt_tokens=p,
                                                                                    completion_tokens=c))):
                buffer += piece
                reply += piece
                done, buffer = cut_reply(buffer, final=False)
                for sentence in done:
                    state.take(sentence)
                out = state.stream()
                if out:
                    yield Token(text=out)
        except LLMUnavailable as exc:
            answer = fallback(ctx, f"The LLM was not used ({exc}); these are the articles' own sentences.")
            yield Final(answer=answer.model_copy(update={"usage": usage[-1] if usage else None}))
            return
        if not usage or not usage[-1].prompt_tokens:
            # llama.cpp's server reports no usage in a stream: count with the pipeline's tokenizer.
            prompt = sum(ctx.count_tokens(m["content"]) for m in messages)
            usage.append(Usage(prompt_tokens=prompt, completion_tokens=ctx.count_tokens(reply), estimated=True))
        done, _ = cut_reply(buffer, final=True)
        for sentence in done:
            state.take(sentence)
        state.complete_list(hints)
        tail = state.stream()
        if tail:
            yield Token(text=tail)
        yield Final(answer=_final(question, chunks, state, usage[-1] if usage else None, ctx))


def _hints(numbered: dict[int, Numbered], ctx: AnswerContext) -> list[int]:
    """The numbers of the sentences the extractive answerer would quote, when it quotes a list."""
    found = ctx.found
    if found.refused or len(found.sentences) < HINT_MIN:
        return []
    return [x.n for x in numbered.values()
            if any(c.chunk.article_id == x.source.article_id and c.start < x.end and c.end > x.start
                   for c in found.sentences)]


def _final(question: str, chunks: Sequence[RetrievedChunk], state: _Answer, usage: Usage | None,
           ctx: AnswerContext) -> Answer:
    claims = [s for s in state.accepted if s.claim]
    verification = Verification(
        quotes_total=len(state.cited_any) + state.invalid, verified=len(state.order), dropped=state.invalid,

        sentences_total=len(claims) + len(state.unsupported), unsupported_sentences=len(state.unsupported))
    if state.relevance is not None:
        why = f"The model's answer rests on sentences that do not answer this question ({state.relevance})"
        # The model chose sentences that do not answer (no number, not close): the extractive
        # answer, sure of its own, is shown instead. Evidence that lacks the question's names
        # answers another story, whoever quotes it: refused.
        if not ctx.found.refused and not state.relevance.startswith("the cited articles do not mention"):
            return fallback(ctx, f"{why}; these are the articles' own sentences.").model_copy(update={"usage": usage})
        return refusal(question, chunks, "llm", verification, f"{why}.", usage)
    if state.accepted and not state.holds_wanted():
        # The answer-type check: an answer without the number, date or items asked for answers
        # another question, however well its sentences are supported.
        noun = {"count": "number"}.get(state.wanted or "", state.wanted)
        for said in state.accepted:
            state.drop(state.text_of(said) if not said.plain else said.plain, f"the answer gives no {noun} the "
                       "question asks for")
        state.accepted, state.order = [], {}
        verification = verification.model_copy(update={
            "sentences_total": len(state.unsupported), "unsupported_sentences": len(state.unsupported)})
    if state.accepted and state.order:
        numbered = state.numbered
        citations = []
        for n, k in sorted(state.order.items(), key=lambda item: item[1]):
            s = numbered[n]
            citations.append(Citation(n=k, article_id=s.source.article_id,
                                      chunk_id=ctx.chunk_id_at(s.source.article_id, s.start, s.end),
                                      title=s.source.title, published_at=s.source.published_at, quote=s.text,
                                      start=s.start, end=s.end))
        text = state.text()
        notes = [f"{len(state.unsupported)} sentence(s) of the model's answer were left out ({state.reasons[0]})."
                 if state.unsupported else "",
                 f"{state.completed} item(s) the model left out are the articles' own sentences." if state.completed
                 else ""]
        notice = " ".join(n for n in notes if n) or None
        return Answer(question=question, answer=text, refused=False, mode="llm", citations=citations,
                      retrieved=retrieved_of(chunks), verification=verification, unsupported=state.unsupported,
                      unsupported_reasons=state.reasons, notice=notice, usage=usage)
    if state.refused or not (state.accepted or state.unsupported):
        return refusal(question, chunks, "llm", verification, usage=usage)
    why = f"its sentences were left out: {state.reasons[-1]}" if state.unsupported else "it cited no sentence"
    instead = fallback(ctx, f"The LLM's answer could not be verified ({why}); these are the articles' own sentences.")
    extras = {"usage": usage, "unsupported": state.unsupported, "unsupported_reasons": state.reasons}
    if instead.refused or (state.wanted and not checks.holds(instead.answer, state.wanted, question)):
        return refusal(question, chunks, "llm", verification, f"Refused: {why}.", usage).model_copy(update=extras)
    return instead.model_copy(update=extras)
