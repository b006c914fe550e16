"""Every threshold and fitted coefficient of answering and ranking, in one place.

Each value says where it came from:
- *fitted*: written by `python -m rag.fit <name>` between its `>>> fitted <name>` and
  `<<< fitted <name>` lines, with the command, the data and the date above it. Refit rather than
  edit those lines: the next fit overwrites them.
- *hand-set*: chosen by the measurement named beside it. Change one only with a before/after
  `rag eval compare` on the sets it names.

The settings (rag/config.py) take their tuned defaults from here; the answerers' parameter
classes (`Params`, `ClaimParams`, `RelevanceParams`) too, so a caller can still override one
value for one run (the fitters do). This module imports nothing of the project: anything may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Logistic:
    """A fitted logistic decision: p = sigmoid(intercept + coefficients . features); yes at p >= threshold."""

    intercept: float
    coefficients: tuple[float, ...]
    threshold: float


@dataclass(frozen=True)
class Prior:
    """A time cue's recency prior (rag/timecues.py)."""

    weight: float  # added to the fused score of an article inside the period
    half_life: float  # days of distance from the period that halve it
    window: int = 0  # recent/none: the period is the `window` days up to as_of


CueKind = Literal["recent", "date", "none"]

# --- refusals of extractive answers (rag/answering/evidence.py) ------------------------------

# Features in this order: top_dense, article_dense, margin, lexical, coverage, sentence_coverage,
# names, numbers, answer_type, stale (evidence.FEATURES). Two models: one for questions whose date
# is known (as_of given and the question bounds its event), one for questions without a date,
# where the staleness signal says nothing (its coefficient is 0).
# >>> fitted refusal
# command: python -m rag.fit refusal (before issue 24: python -m benchmarks.fit_refusal)
# data: ../shared/data/news-dev dataset.jsonl over corpus.jsonl and dataset-refusal.jsonl over corpus-minus.jsonl;
#   evals/datasets seed, corpus, lexical over seeds + evals/corpus
# date: 2026-12-01 (commit 0c962a9)
REFUSAL_DATED = Logistic(
    -0.951, (4.809, 1.139, 1.007, 0.527, -3.308, 1.079, -0.045, -0.413, -0.885, -1.917), 0.3)
REFUSAL_UNDATED = Logistic(
    -3.306, (5.261, 1.423, 2.088, 1.087, -2.484, 0.887, 0.028, -0.194, -0.56, 0.0), 0.0)
# <<< fitted refusal

# Hand-set. Without a date the rule of before refuses (the synthetic sets' unanswerable questions
# are ones the fitted signals do not separate, and on them the undated model's own refusals were
# all false ones, hence its threshold 0): unless the candidate article is a strong dense match
# (STRONG_DENSE), every name in the question must be in it and MIN_COVERAGE of the question's
# weighted terms; nothing at all is answered below MIN_DENSE. docs/design.md, "Extractive answers"
# and "Refusals and answers on real news (issue 13)".
STRONG_DENSE = 0.5
MIN_COVERAGE = 0.5
MIN_DENSE = 0.2
# Hand-set: the refusal model's `stale` signal: the evidence is more than this many days older
# than the question (news is asked about the week before it; docs/design.md, issue 13).
EVIDENCE_STALE_DAYS = 7

# --- confidence: the probability that a shown answer is right (rag/answering/confidence.py) ---
# Features in this order: the ten refusal features above, then log_age, older_than_months,
# holds_expected, hand_rule, answer_coverage, new_names, top_agree, typed_question
# (confidence.FEATURES). Fitted on whether the answer holds the expected fact; unanswerable
# questions' answers count as wrong. The threshold is MIN_CONFIDENCE (RAG_MIN_CONFIDENCE).
# >>> fitted confidence
# command: python -m rag.fit confidence
# data: ../shared/data/news-dev dataset-literal.jsonl over corpus.jsonl and dataset-refusal.jsonl over
#   corpus-minus.jsonl; evals/datasets seed, corpus, lexical over seeds + evals/corpus (L2 10)
# date: 2026-12-07
CONFIDENCE = Logistic(
    -2.874, (0.9, 3.568, 1.349, 0.53, -2.882, 0.193, 0.075, -0.321, -1.166, -4.752, 0.153, -2.609, 1.207, -1.331,
             2.187, 0.014, 1.595, 0.207), 0.35)
# <<< fitted confidence
# Hand-set on news-dev, fitted on one year and scored on the other (README "Confidence"): the
# default refusal threshold on confidence, RAG_MIN_CONFIDENCE.
MIN_CONFIDENCE = 0.35
# Hand-set on news-dev against evals/datasets/time.jsonl: a question that names no time, asked on
# a given day, is about news this much older only rarely (news-dev's refusal set: 22 of its 63
# answers to unanswerable questions, 2 of 177 right ones); the time set's standing-fact
# questions ("Who is the chief executive ...?") are answered from evidence 12-22 days old.
PLAIN_STALE_DAYS = 60

# --- the extractive answerer's sentence choice (rag/answering/selection.py Params) -----------
# Hand-set on evals/datasets seed, corpus and lexical (docs/design.md "Extractive answers").
SENTENCE_WEIGHT = 0.35  # question-term coverage of the sentence
PARAGRAPH_WEIGHT = 0.15  # ... of its paragraph
LEAD_WEIGHT = 0.05  # bonus for a paragraph's lead sentence
MARGIN = 0.05  # non-list: a further sentence must score within this of the best
MAX_SENTENCES = 2
PARAGRAPH_MARGIN = 0.1  # non-list: a further sentence of the best one's paragraph within this
LIST_MARGIN = 0.1  # list: chunks within this dense distance of the best one
LIST_MAX_SENTENCES = 8
TYPE_MARGIN = 0.05  # a typed (number/date/person) sentence within this of the best
TYPED_ANSWERS = ("number", "date", "person")  # answer types a sentence is chosen by
# Hand-set on news-dev (literal set, nothing refused: right 0.883 -> 0.916 at 1.0; seed 0.69 -> 0.72,
# corpus and lexical unchanged): a sentence's score loses this times its
# article's fused-score gap to retrieval's best article, so the answer comes from the article retrieval
# ranks first (within an article, sentences compete on the cosine as before).
FUSED_GAP_WEIGHT = 1.0
# Hand-set on evals/datasets (no refusals: corpus right 0.80 -> 0.87, lexical 0.60 -> 0.63; news-dev and the
# seed unchanged): an answer without the asked type takes its article's best sentence holding it within this.
TYPE_FILL_MARGIN = 0.2
# Hand-set on news-dev: the share of the recency prior the extractive answerer sees as similarity,
# enough to order a week's story before older near-equals, little enough to leave the refusal
# thresholds alone (refusal recall 0.35 -> 0.69, answer recall 0.85; commit 545d8c6).
PRIOR_TO_ANSWERER = 0.3

# --- checking LLM answers --------------------------------------------------------------------
# Hand-set on evals/datasets/quotes.jsonl (`rag eval quotes`, 124 labelled quotes): repair recall
# 0.98 with 0 false repairs at 0.60; the highest-scoring bad quote scores 0.48 (README, docs/design.md issue 4).
REPAIR = 0.6  # a paraphrased quote is re-grounded at or above this
SUPPORT = 0.55  # an answer sentence is supported by its citations at or above this
MIN_SHARED = 2  # content terms a claim must share with the text at least
SURE_OVERLAP = 0.9  # a sentence whose quotes hold this share of its terms needs no embedding
# Hand-set (rag/answering/verify.py, the quote-repair set): quotes shorter than MIN_WORDS prove
# nothing; MIN_RUN words in a row count as copied; MIN_COPIED of a quote in such runs makes it a
# copy (stitched, if no one sentence holds it); an ellipsis may skip ELLIPSIS_SPREAD characters.
MIN_WORDS = 3
MIN_RUN = 4
MIN_COPIED = 0.5
ELLIPSIS_SPREAD = 600
# Hand-set on 80 news-dev tuning questions in LLM mode (docs/design.md "Choosing the refusal
# rules"): the cited articles' missing names may carry less than this share of the question's
# rarity-weighted terms, and their best chunk must be this close (cosine) to the question.
MAX_MISSING_NAMES = 0.5
MIN_CITED_DENSE = 0.45
# Hand-set on the seed's list questions with the 1.5B model (sentences mode): an unmarked claim is
# attributed to at most ATTRIBUTE_MAX numbered sentences sharing ATTRIBUTE_MIN_SHARED content terms;
# a list hint is given when the extractive answer quotes at least HINT_MIN sentences.
ATTRIBUTE_MAX = 3
ATTRIBUTE_MIN_SHARED = 2
HINT_MIN = 3

# Hand-set with the 1.5B model on the seed set (README "LLM answers"): an LLM answer that cites none
# of the extractive answer's sentences, or names a person, name or figure they do not hold, keeps
# this share of the evidence's confidence (below RAG_MIN_CONFIDENCE for all but the surest: the
# extractive answer is shown instead).
DISAGREEMENT = 0.3

# --- LLM sources (settings defaults, rag/config.py) ------------------------------------------
# Hand-set by `python -m benchmarks.llm_sources` (85 answerable questions with evidence spans): 8
# chunks with articles of at most 1,500 tokens sent whole put all the evidence in the prompt
# (p50 1,703 prompt tokens, max 2,901), README "Source choice for the LLM".
LLM_CONTEXT_TOKENS = 3000
LLM_WHOLE_ARTICLE_TOKENS = 1500
# Hand-set with the 1.5B model on news-dev (benchmarks/llm_real.md): the articles the extractive
# answer quotes, at most LLM_SOURCE_ARTICLES; without one, those within LLM_SOURCE_MARGIN of the best.
LLM_SOURCE_MARGIN = 0.1
LLM_SOURCE_ARTICLES = 3
# Hand-set with the 1.5B model (README "LLM answers"): extract-then-compose sends the extractive
# answer's sentences with this many neighbours either side.
LLM_NEIGHBOURS = 1
LLM_ANSWER_TOKENS = 320  # sentences mode's reply cap (benchmarks/llm_real.md)

# --- retrieval (settings defaults and rag/retrieval.py RetrievalParams) ----------------------
# Hand-set by `python -m benchmarks.retrieval_sweep` on evals/datasets (docs/design.md "Hybrid retrieval").
TOP_K = 8
HYBRID_ALPHA = 0.8  # weighted fusion: the dense share
MMR_LAMBDA = 1.0  # 1 = no diversification (measured no gain)
RRF_K = 60
LEXICAL_POOL = 30
DENSE_POOL = 8

# --- time (rag/timecues.py) ------------------------------------------------------------------
# >>> fitted recency
# command: python -m rag.fit recency (before issue 24: python -m benchmarks.fit_recency)
# data: ../shared/data/news-dev dataset.jsonl over corpus.jsonl (hybrid retrieval, weighted fusion, MRR@10 per cue kind)
# date: 2026-12-01 (commit 98ae327)
RECENCY_PRIORS: dict[CueKind, Prior] = {
    "recent": Prior(0.3, 1.0, 7),
    "date": Prior(0.1, 1.0, 0),
    "none": Prior(0.3, 1.0, 7),
}
# <<< fitted recency
# Hand-set on evals/datasets/time.jsonl: a "latest" question over news with nothing inside its
# period moves the period back to the newest candidate scoring within NEAR_BEST of the best.
NEAR_BEST = 0.05
# Hand-set: a "latest" answer whose newest source is older than this many days says "As of <date>".
NOTICE_STALE_DAYS = 14
