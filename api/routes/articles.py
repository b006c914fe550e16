from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from rag.errors import LoadError
from rag.hygiene import lone_surrogate
from rag.loaders import article_from_record
from rag.types import Article
from rag_api.deps import PipelineDep, SettingsDep
from rag_api.schemas import ARTICLES_BODY, ArticleList, ArticleOut, IngestOut, IngestResult

router = APIRouter(tags=["articles"])
ArticleId = Annotated[str, Path(description="The article's id (may contain '/', e.g. a URL)")]


@router.post("/v1/articles", response_model=IngestOut, openapi_extra={"requestBody": ARTICLES_BODY},
             summary="Add or update articles; each gets its own result",
             responses={422: {"description": "malformed JSON, or every record was rejected"},
                        413: {"description": "body or batch too large"}})
async def add_articles(request: Request, pipeline: PipelineDep, settings: SettingsDep) -> IngestOut:
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        raise HTTPException(422, f"malformed JSON: {exc}") from None
    records = _records(body)
    if len(records) > settings.api_max_batch:
        raise HTTPException(413, f"{len(records)} articles in one request; at most {settings.api_max_batch} "
                                 "(RAG_API_MAX_BATCH)")
    articles: list[Article] = []
    results: dict[int, IngestResult] = {}
    seen: set[str] = set()
    for i, record in enumerate(records):
        where = f"articles[{i}]"
        try:
            article = article_from_record(record, where, fallback_id=None)
        except LoadError as exc:
            results[i] = IngestResult(id=_label(record, where), status="error", detail=exc.reason)
            continue
        if article.id in seen:
            results[i] = IngestResult(id=article.id, status="error", detail="duplicate id in this request")
            continue
        seen.add(article.id)
        articles.append(article)
    report = await run_in_threadpool(pipeline.ingest, articles)
    by_id = {article_id: (status, detail) for article_id, status, detail in report.results}
    out, queue = [], iter(articles)
    for i in range(len(records)):
        if i in results:
            out.append(results[i])
        else:
            article = next(queue)
            status, detail = by_id[article.id]
            out.append(IngestResult(id=article.id, status="error" if status == "failed" else status, detail=detail))
    counts = {s: sum(1 for r in out if r.status == s) for s in ("added", "updated", "unchanged", "error")}
    if out and counts["error"] == len(out):
        raise HTTPException(422, "; ".join(f"{r.id}: {r.detail}" for r in out[:5]))
    return IngestOut(results=out, counts=counts)


def _records(body: Any) -> list[Any]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict) and isinstance(body.get("articles"), list):
        return body["articles"]
    if isinstance(body, dict):
        return [body]
    raise HTTPException(422, "expected an article object, a list of them, or {\"articles\": [...]}")


def _label(record: Any, where: str) -> str:
    if isinstance(record, dict):
        for key in ("id", "url"):
            if isinstance(record.get(key), str) and record[key].strip() and not lone_surrogate(record[key]):
                return record[key].strip()
    return where


@router.get("/v1/articles", response_model=ArticleList, summary="Articles, paged")
def list_articles(pipeline: PipelineDep, offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> ArticleList:
    return ArticleList(articles=pipeline.list_articles(offset, limit), offset=offset, limit=limit,
                       total=pipeline.count_articles())


@router.get("/v1/articles/{article_id:path}", response_model=ArticleOut, summary="An article: metadata and text",
            responses={404: {"description": "no article with that id"}})
def get_article(article_id: ArticleId, pipeline: PipelineDep) -> ArticleOut:
    found = pipeline.get_article(article_id)
    if found is None:
        raise HTTPException(404, f"no article with id {article_id!r}")
    info, text = found
    return ArticleOut(**info.model_dump(), text=text)


@router.delete("/v1/articles/{article_id:path}", summary="Delete an article and its chunks",
               responses={404: {"description": "no article with that id"}})
def delete_article(article_id: ArticleId, pipeline: PipelineDep) -> dict[str, str]:
    if not pipeline.delete_article(article_id):
        raise HTTPException(404, f"no article with id {article_id!r}")
    return {"deleted": article_id}
