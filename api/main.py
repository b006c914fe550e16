"""App factory. Thin handlers over Pipeline; errors are mapped in errors.py.

Stateless over `RAG_CHROMA_URL`: a worker keeps only the model and client handles, so any number
of workers or hosts can serve one Chroma server (articles ingested through one are answered by
all). The embedded default is for one process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles

from rag.config import Settings
from rag.datadir import data_dir_problem
from rag.pipeline import Pipeline
from rag_api import errors
from rag_api.deps import require_api_key
from rag_api.guard import LOOPBACK, Guard, host_name
from rag_api.routes import articles, ask, feeds, health, openai, page, search
from rag_api.schemas import ArticleIn

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
            log.warning("warm-up failed: %s", data_dir_problem(settings) or exc)
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
    app.add_middleware(Guard, max_bytes=settings.api_max_body_bytes, allowed_hosts=allowed_hosts(settings),
                       body_timeout_s=settings.api_read_timeout_s)
    app.include_router(health.router)
    app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=page.STATIC), name="static")
    guarded = [Depends(require_api_key)]
    for module in (ask, search, articles, openai, feeds):
        app.include_router(module.router, dependencies=guarded)
    _document_article_records(app)
    _log_errors_once(app)
    return app


def _log_errors_once(app: FastAPI) -> None:
    """Starlette answers an unexpected error with our handler's 500 (which logs it) and then re-raises
    it, so the server logged every 500 a second time with its traceback. The re-raise stops here."""
    build = app.build_middleware_stack

    def build_stack() -> Any:
        inner = build()

        async def stack(scope: Any, receive: Any, send: Any) -> None:
            try:
                await inner(scope, receive, send)
            except Exception:
                if scope["type"] != "http":
                    raise

        return stack

    app.build_middleware_stack = build_stack  # type: ignore[method-assign]


def _document_article_records(app: FastAPI) -> None:
    """POST /v1/articles reads its body by hand (one bad record must not fail the batch), so its
    record schema is added to the OpenAPI components here."""
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            spec.setdefault("components", {}).setdefault("schemas", {})["ArticleIn"] = ArticleIn.model_json_schema()
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def allowed_hosts(settings: Settings) -> frozenset[str] | None:
    """The Host names to answer to, or None for no check: nothing configured (an app built in a test
    or by hand), `*` in RAG_API_ALLOWED_HOSTS, or `rag serve --host 0.0.0.0` with no list."""
    listed = {host_name(h) for h in (settings.api_allowed_hosts or "").split(",") if h.strip()}
    if "*" in listed:
        return None
    bound = host_name(settings.api_bound_host) if settings.api_bound_host else None
    if bound in ("0.0.0.0", "::", ""):
        if not listed:
            log.warning("serving on all interfaces with no RAG_API_ALLOWED_HOSTS: the Host header is not "
                        "checked (set it to the names clients use, to guard against DNS rebinding)")
            return None
        bound = None
    if not listed and bound is None:
        return None
    return frozenset(listed | set(LOOPBACK) | ({bound} if bound else set()))


_READY_WAIT_S = 5.0


def _warm(pipeline: Pipeline) -> None:
    pipeline.embedder.embed(["warm up"])
    pipeline.count_articles()
