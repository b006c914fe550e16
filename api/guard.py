"""What every request passes before a route sees it (issue 16), as one pure ASGI middleware:

- `Host` must be a name this server answers to (when the allowed list is known: `rag serve` always
  knows it), which closes DNS rebinding;
- writes (POST/PUT/PATCH/DELETE) from another origin are refused (`Origin` not this host, or
  `Sec-Fetch-Site: cross-site/same-site`): with no keys set, a web page the user visits must not
  be able to add or delete articles;
- a body sent to `/v1/*` must say `application/json` (415 otherwise), so no "simple" cross-site
  form or text/plain request reaches a JSON route;
- the body is read here, once: over the limit is 413 (declared or chunked), slower than the read
  timeout is 408, not UTF-8, nested too deep or holding a lone surrogate is 422 naming the field.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.hygiene import BadInput, check_document
from rag_api.errors import error_response

log = logging.getLogger("rag_api")
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
LOOPBACK = ("localhost", "127.0.0.1", "::1")
# POST /v1/articles checks each record's strings itself, so one bad record fails alone.
_PER_RECORD = {"/v1/articles"}


def host_name(value: str) -> str:
    """`Host` header or netloc -> the bare lower-case name (no port, no brackets)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    def __init__(self, app: ASGIApp, max_bytes: int, allowed_hosts: frozenset[str] | None,
                 body_timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.allowed_hosts = allowed_hosts  # None: no Host check (the app was not told its names)
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get("host", "")
        if self.allowed_hosts is not None and host_name(host) not in self.allowed_hosts:
            await error_response(421, f"unknown Host {host!r}: this server answers to "
                                      f"{', '.join(sorted(self.allowed_hosts))} (RAG_API_ALLOWED_HOSTS)")(
                scope, receive, send)
            return
        method = scope["method"]
        if method in _WRITES:
            refused = _cross_origin(headers, host)
            if refused:
                await error_response(403, refused)(scope, receive, send)
                return
        path: str = scope["path"]
        if method not in _WRITES or not path.startswith("/v1/") or method == "DELETE":
            await self.app(scope, receive, send)
            return
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        declared = headers.get("content-length")
        if not kind and declared in (None, "0") and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body at all (e.g. POST /v1/feeds/refresh)
            return
        if not (kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))):
            await error_response(415, f"{method} {path} takes a JSON body: send `Content-Type: application/json`"
                                      f" (got {kind or 'none'!r})")(scope, receive, send)
            return
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        try:
            async with asyncio.timeout(self.body_timeout_s):
                body = await self._read(receive)
        except _TooLarge:
            await self._too_large(scope, receive, send)
            return
        except TimeoutError:
            await error_response(408, f"the request body did not arrive within {self.body_timeout_s:g} s",
                                 headers={"connection": "close"})(scope, receive, send)
            return
        except _Gone:  # the client hung up mid-body: nobody to answer, nothing to log
            return
        try:
            check_document(body, skip_surrogates=path in _PER_RECORD)
        except BadInput as exc:
            await error_response(422, str(exc), errors=[{"loc": ["body", *exc.where.split(".")],
                                                         "msg": exc.reason, "type": "value_error"}])(
                scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes:
        parts, seen = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Gone
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                raise _TooLarge
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, f"request body over {self.max_bytes} bytes (RAG_API_MAX_BODY_BYTES)",
                                  headers={"connection": "close"})
        await response(scope, receive, send)


def _cross_origin(headers: dict[str, str], host: str) -> str | None:
    site = headers.get("sec-fetch-site", "").lower()
    if site in ("cross-site", "same-site"):
        return f"cross-origin write refused (Sec-Fetch-Site: {site})"
    origin = headers.get("origin")
    if origin is None:
        return None  # not a browser (curl, SDKs), or a same-origin GET-style request
    netloc = urlsplit(origin).netloc if origin != "null" else ""
    if not netloc or netloc.lower() != host.strip().lower():
        return f"cross-origin write refused (Origin {origin!r} is not this server, {host!r})"
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # http.disconnect, for streaming responses that listen for it

    return replay


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    pass
