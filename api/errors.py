"""Every error is JSON: `{"detail": "...", "error": {"message", "type", "code"}}`. `detail` is what
FastAPI clients expect, `error` what the OpenAI client reads. Domain errors map here, in one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.datadir import data_dir_problem
from rag.errors import ConfigError, RagError, StoreError, StoreUnavailable

log = logging.getLogger("rag_api")
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 408: "request_timeout", 413: "request_too_large", 415: "invalid_request_error",
          421: "invalid_request_error", 422: "invalid_request_error", 503: "service_unavailable"}


def error_response(status: int, message: str, headers: dict[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    body = {"detail": message, "error": {"message": message, "type": _TYPES.get(status, "server_error"),
                                         "code": status}, **extra}
    return JSONResponse(body, status_code=status, headers=headers)


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(x) for x in loc if x != "body") or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        parts = []
        for e in errors[:5]:
            if e.get("type") == "json_invalid":
                parts.append(f"malformed JSON: {e.get('ctx', {}).get('error', e['msg'])}")
            else:
                parts.append(f"{_where(tuple(e['loc']))}: {e['msg']}")
        clean = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]
        return error_response(422, "; ".join(parts), errors=clean)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(StoreUnavailable)
    async def store_down(request: Request, exc: StoreUnavailable) -> JSONResponse:
        return error_response(503, str(exc))

    @app.exception_handler(StoreError)
    async def store_failed(request: Request, exc: StoreError) -> JSONResponse:
        log.error("vector store error on %s %s: %s", request.method, request.url.path, exc)
        return error_response(503, "the vector store failed to answer; try again shortly")

    @app.exception_handler(ConfigError)
    async def not_configured(request: Request, exc: ConfigError) -> JSONResponse:
        return error_response(400, str(exc))

    @app.exception_handler(RagError)
    async def rag_error(request: Request, exc: RagError) -> JSONResponse:
        return error_response(400, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        problem = data_dir_problem(request.app.state.settings)
        if problem:  # a data folder that is a file or read-only: say so, not "internal error"
            log.error("%s %s failed: %s", request.method, request.url.path, problem)
            return error_response(503, problem)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error")


class BodyLimit:
    """413 for bodies over the limit, declared or streamed (chunked uploads are counted too)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        seen = 0

        async def counting() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, counting, send)
        except _TooLarge:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, f"request body over {self.max_bytes} bytes (RAG_API_MAX_BODY_BYTES)")
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass
