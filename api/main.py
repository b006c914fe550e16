"""App factory. Thin handlers over Pipeline; errors are mapped in errors.py.

Stateless over `RAG_CHROMA_URL`: a worker keeps only the model and client handles, so any number
of workers or hosts can serve one Chroma server (articles ingested through one are answered by
all). The embedded default is for one process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles

from rag.config import Settings
from rag.pipeline import Pipeline
from rag_api import errors
from rag_api.deps import require_api_key
from rag_api.routes import articles, ask, health, openai, page, search

log = logging.getLogger("rag_api")

DESCRIPTION = """Answers about news articles, every claim with a verbatim quote at exact offsets
(`article_text[start:end] == quote`). Set `RAG_API_KEYS` to require `Authorization: Bearer <key>` on `/v1/*`."""


def create_app(pipeline: Pipeline | None = None, settings: Settings | None = None) -> FastAPI:
    settings = settings or (pipeline.settings if pipeline else Settings())
    pipeline = pipeline or Pipeline.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:  # load the model and open the store now, not on the first request
            await run_in_threadpool(_warm, pipeline)
        except Exception as exc:  # start anyway: /readyz reports what is wrong
            log.warning("warm-up failed: %s", exc)
        # The BM25 index follows the store from a thread: no search waits on the change feed.
        # A small store is loaded before the first request; a large one is searched dense-only
        # until its load ends (/readyz says so).
        pipeline.index.start_background()
        await run_in_threadpool(pipeline.index.wait_ready, _READY_WAIT_S)
        yield
        pipeline.index.stop_background()

    app = FastAPI(title="rag-news", version="0.2.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.pipeline = pipeline
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(errors.BodyLimit, max_bytes=settings.api_max_body_bytes)
    app.include_router(health.router)
    app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=page.STATIC), name="static")
    guarded = [Depends(require_api_key)]
    for module in (ask, search, articles, openai):
        app.include_router(module.router, dependencies=guarded)
    _document_article_records(app)
    return app


def _document_article_records(app: FastAPI) -> None:
    """POST /v1/articles reads its body by hand (one bad record must not fail the batch), so its
    record schema is added to the OpenAPI components here."""
    from fastapi.openapi.utils import get_openapi

    from rag_api.schemas import ArticleIn

    def openapi() -> dict:  # type: ignore[type-arg]
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            spec.setdefault("components", {}).setdefault("schemas", {})["ArticleIn"] = ArticleIn.model_json_schema()
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_READY_WAIT_S = 5.0


def _warm(pipeline: Pipeline) -> None:
    pipeline.embedder.embed(["warm up"])
    pipeline.count_articles()
