"""Which sentences answer the question: the extractive answerer's choice (`extract`), also what the
LLM answerers' evidence gate, source focus, list hints and fallback use. Quoted verbatim.

News has structure worth using: a reporter's sentence opens each paragraph and names its topic;
quotes follow. A sentence is scored by its chunk's dense similarity, the question terms it and
its paragraph share (weighted by rarity among the retrieved chunks), and a bonus for being a
paragraph's lead. An answer draws one sentence per paragraph, and fills room left with the rest
of the best sentence's own paragraph (news is often one paragraph). A question that asks for
a list ("what did X offer", "which areas") takes every paragraph whose chunk is about as close
to the question as the best one; any other question takes the best sentence and what scores
almost as well. A list also takes the lead sentences of the paragraphs between its items (see
_fill_list), since a reporter writes a list as a run of paragraphs.

It refuses when a "how many"/"when" question finds no number/date the question does not already
say, and when the evidence does not answer the question as a fitted model judges it
(rag/answering/evidence.py: the question's names, numbers and words in the article, how close and
how clear a winner it is, whether the sentence holds a thing of the asked type, and, when the
question's date is known, whether the article is weeks older). Without a date, the hand-set rule
of before guards too. Number, date and person questions ("How many...", "Who...") take the best
sentence that holds such a thing when one scores almost as well as the best sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from rag import tuning
from rag.answering import checks, confidence
from rag.answering.evidence import Assessment, answer_type, assess, has_type
from rag.answering.evidence import dense as _dense
from rag.answering.evidence import rarity as _rarity
from rag.sentences import split_paragraphs, split_sentences
from rag.terms import content_terms, named_terms, words
from rag.types import RetrievedChunk

_QUOTE_OPENERS = "“\"‘'«„"


@dataclass(frozen=True)
class Params:
    """Defaults hand-set on evals/datasets (rag/tuning.py); change only with `rag eval compare`."""

    w_sentence: float = tuning.SENTENCE_WEIGHT
    w_paragraph: float = tuning.PARAGRAPH_WEIGHT
    w_lead: float = tuning.LEAD_WEIGHT
    margin: float = tuning.MARGIN  # non-list: a further sentence must score within this of the best
    max_sentences: int = tuning.MAX_SENTENCES
    typed: tuple[str, ...] = tuning.TYPED_ANSWERS  # answer types a sentence is chosen by
    paragraph_margin: float = tuning.PARAGRAPH_MARGIN  # non-list: a further sentence of the best one's paragraph
    list_margin: float = tuning.LIST_MARGIN  # list: chunks within this dense distance of the best one
    list_max_sentences: int = tuning.LIST_MAX_SENTENCES
    type_margin: float = tuning.TYPE_MARGIN  # a typed (number/date/person/name) sentence within this of the best
    min_evidence: float | None = None  # fitting: refuse by the evidence model's probability alone, below this
    min_confidence: float = tuning.MIN_CONFIDENCE  # refuse an answer less likely right than this (confidence.py)
    fill_margin: float = tuning.TYPE_FILL_MARGIN  # the answer lacks the asked type: its article's best sentence
    # holding it joins, within this of the best
    w_fused: float = tuning.FUSED_GAP_WEIGHT  # a sentence loses this times its article's fused-score gap to the best


@dataclass(frozen=True)
class Candidate:
    chunk: RetrievedChunk
    start: int      # offsets into the article text
    end: int
    text: str
    paragraph: tuple[str, int]
    score: float


@dataclass(frozen=True)
class Extract:
    sentences: list[Candidate]
    refused: bool
    reason: str = ""
    wanted: str | None = None            # the answer type the question asks for
    assessment: Assessment | None = None  # None: refused before any evidence was weighed
    confidence: float = 0.0  # probability the answer is right (confidence.py); 0 when refused unweighed
    by_hand_rule: bool = False  # refused by the undated hand-set rule alone, not by confidence
    features: tuple[float, ...] = ()  # what confidence was computed from (confidence.FEATURES), for fitting

    @property
    def refused_by_evidence(self) -> bool:
        """Refused by an answer-type check or by confidence, not by the undated hand-set
        name/coverage rule alone: what keeps a question from the LLM (the LLM path has its own
        names check, relevance.py)."""
        return self.refused and not self.by_hand_rule


_LIST_Q = re.compile(
    r"^\s*(what|which)\b.*\b(offer\w*|propos\w*|discuss\w*|mention\w*|nam(e|ed)|list\w*|suggest\w*|"
    r"areas|kinds|types|products|goods|things|ways|sectors|fields|measures|steps|topics)\b", re.I)

ArticleChunks = Callable[[str], list[RetrievedChunk]]


def extract(question: str, chunks: list[RetrievedChunk], params: Params = Params(),
            article_chunks: ArticleChunks | None = None, as_of: str | None = None,
            asked: str | None = None, about: str | None = None) -> Extract:
    """`article_chunks(article_id)` gives all of an article's chunks, for list questions; `as_of`
    the day the question was asked, when the question bounds its event to the days before it (see
    evidence.assess); `asked` that day when the asker gave it and the question names no time of
    its own (the evidence's age is a confidence signal, confidence.py); `about` what retrieval
    searched for when it is not the question (a follow-up joined to the one before)."""
    q_terms = content_terms(question)
    if not q_terms:
        return Extract([], True, "the question has nothing to look up", answer_type(question))
    if not chunks:
        return Extract([], True, "nothing was retrieved", answer_type(question))
    weights = _rarity(q_terms, [content_terms(c.text) for c in chunks])
    total = sum(weights.values())
    wanted = answer_type(question)
    # A number or date must come from an article that names what the question names (measured:
    # applied to every question it refused answerable paraphrases that say "Minsk" for Belarus).
    pool = _naming_articles(question, chunks) if wanted in ("number", "date") else chunks
    ranked = _candidates(pool, q_terms, weights, total, params)
    if not ranked:
        return Extract([], True, "nothing retrieved has a sentence to quote", wanted)
    if wanted in params.typed:
        asked_words = {w.lower() for w in words(question)}
        typed = [c for c in ranked if has_type(c.text, wanted, asked_words)]
        # The typed sentence must also be about the question, not any sentence with a digit.
        if typed and typed[0].score >= ranked[0].score - params.type_margin:
            ranked = typed
        elif wanted in ("number", "date"):  # classic answer-type checking, kept from the hand-set rules
            return Extract([], True, f"no {wanted} in the sources", wanted)
    best = ranked[0]
    assessment = assess(question, chunks, best.chunk.article_id, best.text, wanted, as_of)
    if params.min_evidence is not None and not assessment.answers(params.min_evidence):
        return Extract([], True, assessment.reason(wanted), wanted, assessment)
    chosen = _choose(question, chunks, ranked, best, wanted, params, article_chunks)
    answer = " ".join(c.text for c in chosen)
    answer_signals = confidence.signals(question, chunks, answer, best.chunk.article_id,
                                        [c.chunk.published_at for c in chosen], assessment, wanted, as_of, asked)
    features = confidence.vector(assessment, answer_signals)
    sure = round(confidence.probability(features), 4)
    if params.min_evidence is None:
        # A follow-up answered as asked ("And what about food?") names too little for the model,
        # which was fitted on standalone questions: its confidence is reported, not acted on.
        unsure = sure < params.min_confidence and about is None
        if asked is None and assessment.hand_rule is not None:
            # Without a date, the hand-set rule of before refuses too (tuning.py STRONG_DENSE); its
            # reason is the more specific one.
            return Extract([], True, assessment.hand_rule, wanted, assessment, sure, not unsure, features)
        if unsure:
            why = ("the sources are older than the news the question asks about"
                   if answer_signals.older_than_months or assessment.signals.stale else assessment.why(wanted))
            return Extract([], True, f"{why} (confidence {sure:.2f} < {params.min_confidence})", wanted,
                           assessment, sure, features=features)
    return Extract(chosen, False, "", wanted, assessment, sure, features=features)


def _choose(question: str, chunks: list[RetrievedChunk], ranked: list[Candidate], best: Candidate,
            wanted: str | None, params: Params, article_chunks: ArticleChunks | None) -> list[Candidate]:
    """The best sentence and those that join it: the rest of a list, or what scores almost as well."""
    top_dense = max(_dense(c) for c in chunks)
    chosen = [best]
    used = {best.paragraph}
    is_list = bool(_LIST_Q.search(question)) and wanted not in ("number", "date")
    limit = params.list_max_sentences if is_list else params.max_sentences
    for cand in ranked[1:]:
        if len(chosen) >= limit:
            break
        close = (_dense(cand.chunk) >= top_dense - params.list_margin if is_list
                 else cand.score >= best.score - params.margin)
        if close and cand.paragraph not in used and cand.chunk.article_id == best.chunk.article_id:
            chosen.append(cand)
            used.add(cand.paragraph)
    if not is_list:  # room left: the rest of the best paragraph (news is often one paragraph)
        rest = [c for c in ranked[1:] if c.paragraph == best.paragraph
                and c.score >= best.score - params.paragraph_margin]
        chosen += rest[:max(0, limit - len(chosen))]
    if is_list and len(chosen) > 1 and article_chunks is not None:
        chosen = _fill_list(chosen, article_chunks(best.chunk.article_id), limit)
    if params.fill_margin:
        chosen = _fill_type(question, chosen, ranked, best, wanted, params.fill_margin)
    chosen.sort(key=lambda c: c.start)
    return chosen


def _fill_type(question: str, chosen: list[Candidate], ranked: list[Candidate], best: Candidate,
               wanted: str | None, margin: float) -> list[Candidate]:
    """The answer-type check in extractive mode: when the chosen sentences do not hold what the
    question asks for (a duration for "how long did it last", the items for "which vehicles does
    Belarus make"), the best sentence of the same article that does joins them, when it scores
    within `margin` of the best one."""
    need = checks.expected(question) or ("count" if wanted == "number" else wanted)
    if need is None or checks.holds("\n".join(c.text for c in chosen), need, question):
        return chosen
    for cand in ranked:
        if cand.score < best.score - margin:
            break
        if cand.chunk.article_id == best.chunk.article_id and cand not in chosen \
                and checks.holds(cand.text, need, question):
            return [*chosen, cand]
    return chosen


def _fill_list(chosen: list[Candidate], article: list[RetrievedChunk], limit: int) -> list[Candidate]:
    """News writes a list as a run of paragraphs, each opened by a reporter's sentence naming
    one item. The paragraphs between two chosen ones belong to the same run, even when their
    words look nothing like the question's ("the supply of passenger vehicles"), so their lead
    sentences join the answer, nearest to the chosen ones first."""
    first, last = min(c.start for c in chosen), max(c.start for c in chosen)
    used = {c.paragraph for c in chosen}
    leads: dict[tuple[str, int], Candidate] = {}
    for chunk in article:
        for sentence in _sentences(chunk):
            key = (chunk.article_id, chunk.start + sentence.paragraph_start)
            if sentence.lead and key not in used and key not in leads and first < chunk.start + sentence.start < last:
                leads[key] = Candidate(chunk, chunk.start + sentence.start, chunk.start + sentence.end,
                                       sentence.text, key, 0.0)
    room = max(0, limit - len(chosen))
    return chosen + sorted(leads.values(), key=lambda c: c.start)[:room]


def _candidates(chunks: list[RetrievedChunk], q_terms: set[str], weights: dict[str, float], total: float,
                params: Params) -> list[Candidate]:
    found: dict[tuple[str, int, int], Candidate] = {}
    # Retrieval's fused score (dense, BM25, recency) ranks the answering article first more often
    # than the cosine alone: a sentence loses `w_fused` times its article's gap to the best article
    # (within an article, sentences compete as before).
    article_fused: dict[str, float] = {}
    for c in chunks:
        article_fused[c.article_id] = max(article_fused.get(c.article_id, c.score), c.score)
    top_fused = max(article_fused.values())
    for chunk in chunks:
        paragraph_coverage: dict[int, float] = {}
        for s in _sentences(chunk):
            if s.paragraph_start not in paragraph_coverage:
                paragraph = chunk.text[s.paragraph_start:s.paragraph_end]
                paragraph_coverage[s.paragraph_start] = _coverage(
                    q_terms & content_terms(paragraph), weights, total)
            score = (
                _dense(chunk) - params.w_fused * (top_fused - article_fused[chunk.article_id])
                + params.w_sentence * _coverage(q_terms & content_terms(s.text), weights, total)
                + params.w_paragraph * paragraph_coverage[s.paragraph_start]
                + params.w_lead * s.lead
            )
            key = (chunk.article_id, chunk.start + s.start, chunk.start + s.end)
            if key not in found or found[key].score < score:
                found[key] = Candidate(chunk, key[1], key[2], s.text,
                                       (chunk.article_id, chunk.start + s.paragraph_start), score)
    return sorted(found.values(), key=lambda c: (-c.score, c.start))


@dataclass(frozen=True)
class _Sentence:
    start: int  # offsets into the chunk text
    end: int
    paragraph_start: int
    paragraph_end: int
    text: str
    lead: bool  # opens its paragraph and is the reporter's, not a quote


def _sentences(chunk: RetrievedChunk) -> Iterator[_Sentence]:
    yield from _split(chunk.chunk_id, chunk.text, chunk.starts_paragraph)


@lru_cache(maxsize=8192)
def _split(chunk_id: str, text: str, starts_paragraph: bool) -> tuple[_Sentence, ...]:
    """Sentence splitting is the costliest step of an answer and a chunk never changes (its id
    holds its content hash), so each chunk is split once per process."""
    found = []
    for ps, pe in split_paragraphs(text):
        # A chunk may begin mid-paragraph (overlap); its first sentence then opens nothing.
        opens_paragraph = ps > 0 or starts_paragraph
        for k, (ss, se) in enumerate(split_sentences(text[ps:pe], offset=ps)):
            sentence = text[ss:se]
            lead = k == 0 and opens_paragraph and sentence[:1] not in _QUOTE_OPENERS
            found.append(_Sentence(ss, se, ps, pe, sentence, lead))
    return tuple(found)


def _naming_articles(question: str, chunks: list[RetrievedChunk]) -> list[RetrievedChunk]:
    """Only the articles whose retrieved text names everything the question names, when any does:
    "How many buses will Astrakhan buy?" must not be answered with a figure from an article about
    Almaty's buses retrieved for "buses" (lexical search makes such neighbours common)."""
    names = named_terms(question)
    if not names:
        return chunks
    terms: dict[str, set[str]] = {}
    for c in chunks:
        terms.setdefault(c.article_id, set()).update(content_terms(c.text))
    naming = {a for a, t in terms.items() if names <= t}
    return [c for c in chunks if c.article_id in naming] if naming else chunks


def _coverage(found: set[str], weights: dict[str, float], total: float) -> float:
    """evidence.coverage with the total summed once per question (this runs per sentence)."""
    return sum(weights[t] for t in found) / total if total else 0.0


def time_weighted(chunks: list[RetrievedChunk], dense_share: float) -> list[RetrievedChunk]:
    """The chunks with the recency prior added to the similarity `extract` ranks sentences by (in
    cosine units: the prior is in fused units, where the cosine counts `dense_share`), so the answer
    comes from the article retrieval preferred for its date. Chunks carry a recency only when
    time-awareness set a cue, so with it off this changes nothing."""
    scale = tuning.PRIOR_TO_ANSWERER / max(dense_share, 0.1)
    return [c.model_copy(update={"dense_score": c.dense_score + scale * c.recency})
            if c.recency and c.dense_score is not None else c for c in chunks]
