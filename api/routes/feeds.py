"""/v1/feeds: the watched feeds (list, add, remove) and one polling pass on demand."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from rag.feeds import FeedNotFound, FeedStore, PassReport, fetcher_from_settings, run_pass
from rag.fetch import FetchError
from rag_api.deps import PipelineDep, SettingsDep

router = APIRouter(tags=["feeds"])
FeedUrl = Annotated[str, Path(description="The feed's URL, as listed")]


class FeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # No example URL here: the API fuzzer would add it and a refresh would then fetch it.
    url: str = Field(min_length=1, max_length=2000,
                     description="An http(s) URL of an RSS or Atom feed, e.g. https://example.org/news/rss.xml")


class FeedOut(BaseModel):
    url: str
    added_at: str
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_checked: str | None = None
    last_status: str | None = None
    last_error: str | None = None
    entries_seen: int = 0


class FeedList(BaseModel):
    feeds: list[FeedOut]


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    urls: list[str] | None = Field(None, max_length=1000, description="Watched feeds to poll; all when absent")


class RefreshOut(BaseModel):
    counts: dict[str, int]
    feeds: list[dict[str, Any]]
    problems: list[dict[str, Any]]


@router.get("/v1/feeds", response_model=FeedList, summary="Watched feeds with their last check and error")
def list_feeds(pipeline: PipelineDep) -> FeedList:
    return FeedList(feeds=[FeedOut(**s.public()) for s in FeedStore.for_pipeline(pipeline).list()])


@router.post("/v1/feeds", response_model=FeedOut, status_code=201, summary="Watch a feed",
             responses={200: {"description": "already watched"}, 422: {"description": "not an http(s) URL"}})
def add_feed(body: FeedIn, pipeline: PipelineDep, response: Response) -> FeedOut:
    try:
        state, created = FeedStore.for_pipeline(pipeline).add(body.url)
    except FetchError as exc:
        raise HTTPException(422, f"url: {exc}") from None
    if not created:
        response.status_code = 200
    return FeedOut(**state.public())


@router.delete("/v1/feeds/{url:path}", summary="Stop watching a feed (its articles stay)",
               responses={404: {"description": "not a watched feed"}})
def remove_feed(url: FeedUrl, pipeline: PipelineDep) -> dict[str, str]:
    try:
        FeedStore.for_pipeline(pipeline).remove(url)
    except FeedNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return {"removed": url}


@router.post("/v1/feeds/refresh", response_model=RefreshOut,
             summary="Poll the watched feeds now; per-feed results and every problem with its reason",
             responses={404: {"description": "a URL given is not a watched feed"}})
async def refresh(pipeline: PipelineDep, settings: SettingsDep, body: RefreshIn | None = None) -> RefreshOut:
    store = FeedStore.for_pipeline(pipeline)

    def one_pass() -> PassReport:
        with fetcher_from_settings(settings, robots_cache=store) as fetcher:
            return run_pass(pipeline, store, fetcher, max_entries=settings.feed_max_entries,
                            workers=settings.fetch_workers, urls=body.urls if body else None)

    try:
        report = await run_in_threadpool(one_pass)
    except FeedNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return RefreshOut(**report.as_dict())
