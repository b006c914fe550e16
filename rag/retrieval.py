"""Retrieval: dense (Chroma), lexical (BM25, rag/lexical.py) or both fused, then diversified.

Hybrid gives every candidate of either side both of its scores (the dense cosine from its stored
vector, the BM25 score from a query restricted to it), so fusion never has to guess a missing
side. `weighted` mixes cosine with BM25 scaled by the best BM25 of the candidates; `rrf` is
reciprocal rank fusion. MMR then trades a little relevance for chunks that do not repeat each
other. The defaults come from `rag eval compare` (docs/design.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Literal

import numpy as np

from rag import tuning
from rag.lexical import LexicalIndex
from rag.store import ChunkStore, date_number
from rag.timecues import TimeCue
from rag.types import Filters, RetrievedChunk

Method = Literal["dense", "lexical", "hybrid"]


@dataclass(frozen=True)
class RetrievalParams:
    method: Method = "hybrid"
    fusion: Literal["weighted", "rrf"] = "weighted"
    alpha: float = tuning.HYBRID_ALPHA  # weighted: share of the dense score
    rrf_k: int = tuning.RRF_K
    pool: int = tuning.LEXICAL_POOL  # lexical candidates
    dense_pool: int = tuning.DENSE_POOL  # dense candidates (each costs Chroma a document and metadata to return)
    mmr_lambda: float = tuning.MMR_LAMBDA  # 1.0 = no diversification
    # Weighted fusion, a chunk whose article is written in another script than the question (an
    # English question, a Russian article): its BM25 share is multiplied by this. With a
    # multilingual embedder 0.05 (rag/embedding.py CROSS_LEXICAL): BM25 matches only numbers and
    # names there, and a weak match would outweigh the dense side, whose cosines (E5's) differ
    # little. With MiniLM, which cannot read Russian, BM25 is the better side: 1.0, unchanged
    # (issue 28; benchmarks/xquad_sweep.py). Same-script chunks are never affected.
    cross_lexical: float = 1.0


class Retriever:
    """Ranking over the two halves the index layer (rag/index.py) owns; it never writes."""

    def __init__(self, store: ChunkStore, index: LexicalIndex, params: RetrievalParams,
                 lexical_ready: Callable[[], bool] = lambda: True) -> None:
        self.store = store
        self.index = index
        self.params = params
        self.lexical_ready = lexical_ready  # False while a new replica loads: dense only

    def retrieve(self, question: str, vector: np.ndarray, k: int, window: Filters = Filters(),
                 params: RetrievalParams | None = None, cue: TimeCue | None = None) -> list[RetrievedChunk]:
        """The best `k` chunks within `window`; a time `cue` adds its recency prior to every
        candidate's score before the cut (rag/timecues.py)."""
        found = self._retrieve(question, vector, k, window, params or self.params, cue)
        if cue is None:
            return found
        after = cue.as_of.isoformat()  # nothing published after as_of, whatever the filters said
        return [c for c in found if not (c.published_at and c.published_at > after)]

    def _retrieve(self, question: str, vector: np.ndarray, k: int, window: Filters, p: RetrievalParams,
                  cue: TimeCue | None) -> list[RetrievedChunk]:
        pool = max(p.pool, k)
        ready = self.lexical_ready()
        infos = self.index.infos if ready else None
        if not ready or (p.method == "dense" and p.mmr_lambda >= 1.0):
            return _with_prior(_ranked(self.store.query(vector, k, window, infos), "dense"), cue)[:k]
        match = self.index.match(question)
        if p.method == "lexical":
            found = _with_prior(_ranked(self._lexical(match, pool, window), "lexical"), cue)[:k]
            vectors = self._vectors([c.chunk_id for c in found])  # cosines, for answer scoring
            return [c.model_copy(update={"dense_score": round(float(vectors[c.chunk_id] @ vector), 6)})
                    if c.chunk_id in vectors else c for c in found]
        dense = self.store.query(vector, max(p.dense_pool, k), window, infos)
        if p.method == "dense":
            candidates = _with_prior(_ranked(dense, "dense"), cue)
        else:
            candidates = self._fuse(match, vector, dense, pool, window, p, cue, question)
        if p.mmr_lambda < 1.0:
            return _mmr(candidates, self._vectors([c.chunk_id for c in candidates]), k, p.mmr_lambda)
        return candidates[:k]

    def _vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """The chunks' vectors from the index's copy; those it lacks (a new replica fills them in
        after its load) from the store, in one request."""
        found = self.index.vectors(ids)
        missing = [i for i in ids if i not in found]
        return found | self.store.vectors(missing) if missing else found

    def _lexical(self, match: str, k: int, window: Filters) -> list[RetrievedChunk]:
        if not match:
            return []
        since = date_number(window.since) if window.since else None
        until = date_number(window.until) if window.until else None
        return self.index.search(match, k, since, until, window.source, window.language)

    def _fuse(self, match: str, vector: np.ndarray, dense: list[RetrievedChunk], pool: int, window: Filters,
              p: RetrievalParams, cue: TimeCue | None = None, question: str = "") -> list[RetrievedChunk]:
        lexical = self._lexical(match, pool, window)
        dense_rank = {c.chunk_id: r for r, c in enumerate(dense, start=1)}
        lexical_rank = {c.chunk_id: r for r, c in enumerate(lexical, start=1)}
        chunks = {c.chunk_id: c for c in lexical} | {c.chunk_id: c for c in dense}
        # Both scores for every candidate: cosine from the vectors the index keeps, BM25 from a
        # query restricted to the dense candidates.
        cosine = {c.chunk_id: c.score for c in dense}
        cosine.update({i: float(v @ vector) for i, v in
                       self._vectors([i for i in chunks if i not in cosine]).items()})
        bm25 = {c.chunk_id: c.score for c in lexical}
        unscored = [i for i in chunks if i not in bm25]
        if unscored and len(lexical) >= pool:  # a shorter list holds every chunk that matches at all
            bm25.update(self.index.scores(match, unscored))
        cross = cross_script(question, {i: c.language for i, c in chunks.items()})
        fused = fuse(list(chunks), cosine, bm25, dense_rank, lexical_rank, p, cross)
        recency = _bonuses(cue, [(i, fused[i], chunks[i].published_at) for i in chunks]) if cue else {}
        for i, bonus in recency.items():
            fused[i] += bonus
        order = sorted(chunks, key=lambda i: fused[i], reverse=True)
        return [chunks[i].model_copy(update={
            "score": round(fused[i], 6), "dense_rank": dense_rank.get(i), "lexical_rank": lexical_rank.get(i),
            "dense_score": round(cosine[i], 6) if i in cosine else None,
            "lexical_score": round(bm25.get(i, 0.0), 6), "recency": round(recency[i], 6) if cue else None})
            for i in order]


def _with_prior(chunks: list[RetrievedChunk], cue: TimeCue | None) -> list[RetrievedChunk]:
    """Add the cue's recency bonus to each score and re-sort (stable: ties keep their order)."""
    if cue is None:
        return chunks
    recency = _bonuses(cue, [(c.chunk_id, c.score, c.published_at) for c in chunks])
    out = [c.model_copy(update={"score": round(c.score + recency[c.chunk_id], 6),
                                "recency": round(recency[c.chunk_id], 6)}) for c in chunks]
    return sorted(out, key=lambda c: c.score, reverse=True)


def _bonuses(cue: TimeCue, scored: list[tuple[str, float, str | None]]) -> dict[str, float]:
    """chunk id -> what the (settled) cue adds to its score; see rag/timecues.py."""
    dated = [(i, score, _date(published)) for i, score, published in scored]
    settled = cue.settle([(score, d) for _, score, d in dated])
    return {i: settled.bonus(d) for i, _, d in dated}


@lru_cache(maxsize=4096)
def _date(iso: str | None) -> date | None:
    try:
        return date.fromisoformat(iso) if iso else None
    except ValueError:
        return None


def fuse(ids: Sequence[str], cosine: dict[str, float], bm25: dict[str, float], dense_rank: dict[str, int],
         lexical_rank: dict[str, int], p: RetrievalParams, cross: frozenset[str] = frozenset()) -> dict[str, float]:
    """Each candidate's fused score. `weighted`: alpha·cosine + (1-alpha)·bm25/best bm25 (a missing
    score counts 0; for a chunk in `cross`, in another script than the question, the BM25 share
    times p.cross_lexical); `rrf`: the sum of 1/(rrf_k + rank) over the lists that rank it."""
    if p.fusion == "rrf":
        return {i: sum(1 / (p.rrf_k + ranks[i]) for ranks in (dense_rank, lexical_rank) if i in ranks) for i in ids}
    best_bm25 = max(bm25.values(), default=0.0) or 1.0
    return {i: p.alpha * cosine.get(i, 0.0)
            + (1 - p.alpha) * (p.cross_lexical if i in cross else 1.0) * bm25.get(i, 0.0) / best_bm25 for i in ids}


def cross_script(question: str, languages: dict[str, str | None]) -> frozenset[str]:
    """The chunk ids whose article's language is written in another script than the question."""
    from rag.language import script_of_language, script_of_text

    asked = script_of_text(question)
    return frozenset(i for i, lang in languages.items()
                     if lang is not None and asked is not None and script_of_language(lang) != asked)


def _ranked(chunks: list[RetrievedChunk], side: str) -> list[RetrievedChunk]:
    key, score = ("dense_rank", "dense_score") if side == "dense" else ("lexical_rank", "lexical_score")
    return [c.model_copy(update={key: r, score: round(c.score, 6)}) for r, c in enumerate(chunks, start=1)]


def _mmr(candidates: list[RetrievedChunk], vectors: dict[str, np.ndarray], k: int,
         lam: float) -> list[RetrievedChunk]:
    """Maximal marginal relevance over the candidates' stored vectors."""
    if not candidates:
        return []
    top = max(c.score for c in candidates) or 1.0
    chosen: list[RetrievedChunk] = []
    rest = [c for c in candidates if c.chunk_id in vectors]
    while rest and len(chosen) < k:
        def gain(c: RetrievedChunk) -> float:
            redundancy = max((float(vectors[c.chunk_id] @ vectors[s.chunk_id]) for s in chosen), default=0.0)
            return lam * c.score / top - (1 - lam) * redundancy
        best = max(rest, key=gain)
        chosen.append(best)
        rest.remove(best)
    return chosen
