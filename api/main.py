"""App factory. Thin handlers over Pipeline; domain errors become HTTP errors in one place."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from rag.config import Settings
from rag.errors import RagError, StoreUnavailable
from rag.pipeline import Filters, Pipeline
from rag.types import Answer

MAX_QUESTION_CHARS = 4000


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    until: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    source: str | None = None


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"question": "What did Belarus offer Astrakhan?", "top_k": 8}]})
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=r"\S")
    top_k: int | None = Field(None, ge=1, le=50)
    mode: Literal["auto", "extractive"] = "auto"
    filters: FiltersIn | None = None


def get_pipeline(request: Request) -> Pipeline:
    if request.app.state.pipeline is None:
        request.app.state.pipeline = Pipeline.from_settings(Settings())
    return request.app.state.pipeline  # type: ignore[no-any-return]


PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]


def create_app(pipeline: Pipeline | None = None) -> FastAPI:
    app = FastAPI(title="rag-news", version="0.1.0",
                  description="Answers about news articles with verified, verbatim quoted citations.")
    app.state.pipeline = pipeline

    @app.exception_handler(StoreUnavailable)
    async def store_down(request: Request, exc: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/ask", response_model=Answer)
    def ask(body: AskIn, pipeline: PipelineDep) -> Answer:
        f = body.filters or FiltersIn()
        return pipeline.ask(body.question, body.top_k, Filters(f.since, f.until, f.source))

    return app
