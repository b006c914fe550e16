"""/v1/feeds: the watched feeds (list, add, remove) and a polling pass on demand, run as a job."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from rag.addresses import AddressPolicy
from rag.feeds import FeedNotFound, FeedStore, TooManyFeeds, process_fetcher, run_pass
from rag.fetch import FetchError
from rag.hygiene import redact_credentials
from rag.refresh import RefreshJobs
from rag_api.deps import PipelineDep, SettingsDep, require_feed_writer

router = APIRouter(tags=["feeds"])
FeedUrl = Annotated[str, Path(description="The feed's URL, as listed")]
JobId = Annotated[str, Path(description="The id `POST /v1/feeds/refresh` answered with", max_length=64)]
Writer = [Depends(require_feed_writer)]
JOBS = RefreshJobs()  # one pass at a time per store, in this process


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
    entries_pending: int = 0


class FeedList(BaseModel):
    feeds: list[FeedOut]


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    urls: list[str] | None = Field(None, max_length=1000, description="Watched feeds to poll; all when absent")


class JobOut(BaseModel):
    id: str
    state: str = Field(description="running, finished or failed")
    started_at: str
    finished_at: str | None = None
    urls: list[str] | None = None
    joined: bool = Field(False, description="A pass was already running for this store; this is it")
    feeds: list[dict[str, Any]] = Field(default_factory=list, description="Each feed's result as it finishes")
    report: dict[str, Any] | None = Field(None, description="counts, feeds, problems: once finished")
    error: str | None = None


@router.get("/v1/feeds", response_model=FeedList, summary="Watched feeds with their last check and error")
def list_feeds(pipeline: PipelineDep) -> FeedList:
    return FeedList(feeds=[FeedOut(**s.public()) for s in FeedStore.for_pipeline(pipeline).list()])


@router.post("/v1/feeds", response_model=FeedOut, status_code=201, summary="Watch a feed", dependencies=Writer,
             responses={200: {"description": "already watched"},
                        422: {"description": "not an http(s) URL, credentials in it, or an address not fetched"},
                        409: {"description": "the store watches RAG_FEEDS_MAX feeds already"}})
def add_feed(body: FeedIn, pipeline: PipelineDep, settings: SettingsDep, response: Response) -> FeedOut:
    try:
        state, created = FeedStore.for_pipeline(pipeline).add(body.url, AddressPolicy.from_settings(settings),
                                                              max_feeds=settings.feeds_max)
    except FetchError as exc:
        raise HTTPException(422, f"url: {exc}") from None
    except TooManyFeeds as exc:
        raise HTTPException(409, redact_credentials(str(exc))) from None
    if not created:
        response.status_code = 200
    return FeedOut(**state.public())


@router.delete("/v1/feeds/{url:path}", summary="Stop watching a feed (its articles stay)", dependencies=Writer,
               responses={404: {"description": "not a watched feed"}})
def remove_feed(url: FeedUrl, pipeline: PipelineDep) -> dict[str, str]:
    try:
        FeedStore.for_pipeline(pipeline).remove(url)
    except FeedNotFound as exc:
        raise HTTPException(404, redact_credentials(str(exc))) from None
    return {"removed": redact_credentials(url)}


@router.post("/v1/feeds/refresh", response_model=JobOut, status_code=202, dependencies=Writer,
             summary="Start a pass over the watched feeds (or join the one running); poll its job",
             responses={404: {"description": "a URL given is not a watched feed"}})
def refresh(pipeline: PipelineDep, settings: SettingsDep, response: Response,
            body: RefreshIn | None = None) -> JobOut:
    store = FeedStore.for_pipeline(pipeline)
    urls = body.urls if body else None
    if urls is not None:
        watched = set(store.urls())
        missing = sorted({u.strip() for u in urls} - watched)
        if missing:
            raise HTTPException(404, redact_credentials(f"{missing[0]}: not a watched feed; add it with "
                                                        "POST /v1/feeds"))
    # The server's Fetcher keeps robots.txt in memory for the process's life; the store's robots
    # cache is for watchers started by cron (rag watch --once).
    fetcher = process_fetcher(settings)

    def one_pass(progress):  # type: ignore[no-untyped-def]
        return run_pass(pipeline, store, fetcher, max_entries=settings.feed_max_entries,
                        workers=settings.fetch_workers, urls=urls, progress=progress,
                        budget_s=settings.feed_pass_budget_s, max_feeds=settings.feeds_max)

    key = f"{settings.chroma_url or settings.data_dir}|{store.name}"
    job, joined = JOBS.start(key, urls, one_pass)
    response.headers["Location"] = f"/v1/feeds/jobs/{job.id}"
    return JobOut(**job.public(), joined=joined)


@router.get("/v1/feeds/jobs/{job_id}", response_model=JobOut, summary="A refresh job: running, then its report",
            responses={404: {"description": "no such job (they are kept in memory, the last 50)"}})
def get_job(job_id: JobId) -> JobOut:
    job = JOBS.get(job_id)
    if job is None:
        raise HTTPException(404, f"{job_id}: no such refresh job")
    return JobOut(**job.public())
