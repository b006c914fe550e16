from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from rag.pipeline import Filters
from rag.timecues import parse_as_of
from rag_api.deps import PipelineDep
from rag_api.schemas import AS_OF_DOC, MAX_QUESTION_CHARS, SearchOut, real_date

router = APIRouter(tags=["retrieval"])
DATE = r"^\d{4}-\d{2}-\d{2}$"


@router.get("/v1/search", response_model=SearchOut, summary="Retrieved chunks with scores, best first")
def search(pipeline: PipelineDep,
           q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=r"\S",
                                   examples=["milk processing plant"])],
           k: Annotated[int, Query(ge=1, le=50)] = 8,
           since: Annotated[str | None, Query(pattern=DATE)] = None,
           until: Annotated[str | None, Query(pattern=DATE)] = None,
           source: str | None = None,
           language: Annotated[str | None, Query(pattern=r"^[a-z]{2,3}$", description="ISO 639-1, as detected "
                                                 "at ingest")] = None,
           as_of: Annotated[str | None, Query(description=AS_OF_DOC)] = None) -> SearchOut:
    try:
        since, until = real_date(since), real_date(until)
    except ValueError as exc:
        raise HTTPException(422, f"since/until: {exc}") from None
    try:
        when = parse_as_of(as_of) if as_of is not None else None
    except ValueError as exc:
        raise HTTPException(422, f"as_of: {exc}") from None
    return SearchOut(query=q, results=pipeline.retrieve(q, k, Filters(since, until, source, language), as_of=when))
