"""Polite HTTP GETs for feeds and article pages.

One `Fetcher` per pass (or per watcher): a descriptive User-Agent, robots.txt obeyed
(urllib.robotparser), a per-host pause and in-flight limit, timeouts, a size limit counted as the
body arrives, redirects followed one hop at a time (each hop is checked against robots.txt and
the loop is named), conditional GETs, and bounded retries with exponential backoff (tenacity) for
what may pass: timeouts, dropped connections, 408, 429 and 5xx. Every failure is a `FetchError`
whose reason is one line.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from rag.errors import RagError

if TYPE_CHECKING:
    import httpx

    from rag.config import Settings

_REDIRECTS = {301, 302, 303, 307, 308}
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}
_ROBOTS_TTL_S = 3600.0
_MAX_RETRY_AFTER_S = 60.0


class FetchError(RagError):
    """A URL could not be fetched; `reason` is one line."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class Politeness:
    user_agent: str
    timeout_s: float = 15.0
    max_bytes: int = 5_000_000
    retries: int = 2
    backoff_s: float = 1.0
    max_redirects: int = 5
    host_delay_s: float = 1.0
    host_concurrency: int = 2

    @classmethod
    def from_settings(cls, s: Settings) -> Politeness:
        return cls(user_agent=s.fetch_user_agent, timeout_s=s.fetch_timeout_s, max_bytes=s.fetch_max_bytes,
                   retries=s.fetch_retries, backoff_s=s.fetch_backoff_s, max_redirects=s.fetch_max_redirects,
                   host_delay_s=s.fetch_host_delay_s, host_concurrency=s.fetch_host_concurrency)

    @property
    def robots_agent(self) -> str:
        """The product token robots.txt rules are matched against ("rag-news" of "rag-news/0.1 (...)")."""
        return self.user_agent.split("/", 1)[0].split()[0]


@dataclass(frozen=True)
class Response:
    url: str  # as asked
    final_url: str  # after redirects
    status: int  # 200..299, or 304 for a conditional GET of something unchanged
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None


@dataclass
class _Host:
    slots: threading.Semaphore
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_at: float = 0.0
    robots: RobotFileParser | None = None
    robots_at: float = -_ROBOTS_TTL_S


def check_url(url: str) -> str:
    """The URL without its fragment, or a FetchError saying why it is not one we fetch."""
    if len(url) > 2000:
        raise FetchError(url[:80] + "…", "URL longer than 2,000 characters")
    if any(ch.isspace() or ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in url.strip()):
        raise FetchError(url.strip()[:200].encode("utf-8", "replace").decode(),
                         "not a valid URL (it contains spaces, control characters or unpaired surrogates)")
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise FetchError(url, f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(url, "not an http(s) URL with a host")
    return urlunsplit(parts._replace(fragment=""))


class RobotsCache(Protocol):
    """Where robots.txt files are kept between runs: (text, fetched at, epoch seconds) per origin."""

    def load_robots(self, origin: str) -> tuple[str, float] | None: ...

    def save_robots(self, origin: str, text: str) -> None: ...


class Fetcher:
    def __init__(self, policy: Politeness, transport: httpx.BaseTransport | None = None,
                 robots_cache: RobotsCache | None = None) -> None:
        self.policy = policy
        self.robots_cache = robots_cache
        self._transport = transport
        self._client: httpx.Client | None = None
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                import httpx

                p = self.policy
                self._client = httpx.Client(
                    headers={"User-Agent": p.user_agent,
                             "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
                                       "text/xml;q=0.9, text/html;q=0.8, */*;q=0.5"},
                    timeout=httpx.Timeout(p.timeout_s), follow_redirects=False, transport=self._transport,
                    limits=httpx.Limits(max_connections=64, max_keepalive_connections=16))
            return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Response:
        """GET `url` following redirects; 304 comes back as a Response when validators were sent."""
        url = check_url(url)
        conditional = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if v}
        hops = [url]
        current = url
        while True:
            if not self._allowed(current):
                raise FetchError(url, f"robots.txt of {_origin(current)} disallows it for "
                                      f"{self.policy.robots_agent!r}" + (f" (redirected to {current})"
                                                                         if current != url else ""))
            response = self._get_once(url, current, conditional)
            if response.status in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise FetchError(url, f"HTTP {response.status} redirect without a Location header")
                try:
                    target = check_url(urljoin(current, location))
                except FetchError as exc:
                    raise FetchError(url, f"redirected to {exc.url}: {exc.reason}") from None
                if target in hops:
                    raise FetchError(url, "redirect loop: " + " -> ".join([*hops[hops.index(target):], target]))
                if len(hops) > self.policy.max_redirects:
                    raise FetchError(url, f"more than {self.policy.max_redirects} redirects "
                                          "(RAG_FETCH_MAX_REDIRECTS)")
                hops.append(target)
                current = target
                continue
            return Response(url=url, final_url=current, status=response.status, headers=response.headers,
                            body=response.body)

    # --- one request, with retries -----------------------------------------------------------

    def _get_once(self, asked: str, url: str, headers: dict[str, str]) -> Response:
        from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt

        p = self.policy
        attempts = 0

        def wait(state: Any) -> float:
            exc = state.outcome.exception()
            backoff = p.backoff_s * (2 ** (state.attempt_number - 1))
            after = getattr(exc, "retry_after", None)
            return min(max(backoff, after or 0.0), _MAX_RETRY_AFTER_S)

        retrying = Retrying(stop=stop_after_attempt(p.retries + 1), wait=wait,
                            retry=retry_if_exception_type(_Retryable), reraise=False)
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    return self._request(asked, url, headers)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            reason = getattr(last, "reason", str(last))
            suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
            raise FetchError(asked, reason + suffix + (f" at {url}" if url != asked else "")) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(self, asked: str, url: str, headers: dict[str, str]) -> Response:
        import httpx

        host = self._host(url)
        with host.slots:
            self._pause(host)
            try:
                with self.client.stream("GET", url, headers=headers) as r:
                    out_headers = {k.lower(): v for k, v in r.headers.items()}
                    if r.status_code in _RETRY_STATUS:
                        raise _Retryable(_status(r.status_code),
                                         _retry_after(out_headers.get("retry-after")))
                    if r.status_code in _REDIRECTS or r.status_code == 304:
                        return Response(asked, url, r.status_code, out_headers)
                    if r.status_code >= 400 or r.status_code < 200:
                        where = f" at {url}" if url != asked else ""
                        raise FetchError(asked, _status(r.status_code) + where)
                    body = self._read_limited(asked, r)
                    return Response(asked, url, r.status_code, out_headers, body)
            except httpx.TimeoutException as exc:
                raise _Retryable(f"timed out after {self.policy.timeout_s:g}s ({type(exc).__name__})") from None
            except httpx.ConnectError as exc:
                raise _Retryable(f"cannot connect to {_origin(url)} ({_short(exc)})") from None
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                raise _Retryable(f"connection dropped ({_short(exc)})") from None
            except httpx.DecodingError as exc:
                raise FetchError(asked, f"undecodable body ({_short(exc)})") from None
            except httpx.HTTPError as exc:
                raise FetchError(asked, f"{type(exc).__name__}: {_short(exc)}") from None

    def _read_limited(self, asked: str, r: httpx.Response) -> bytes:
        limit = self.policy.max_bytes
        declared = r.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(asked, f"body of {int(declared):,} bytes is over the limit of {limit:,} "
                                    "(RAG_FETCH_MAX_BYTES)")
        parts: list[bytes] = []
        seen = 0
        # The timeout is per read; a server dripping a byte at a time gets a deadline for the whole body.
        deadline = time.monotonic() + 4 * self.policy.timeout_s
        for part in r.iter_bytes():  # decompressed bytes: a small gzip bomb is counted at full size
            if time.monotonic() > deadline:
                raise FetchError(asked, f"body still arriving after {4 * self.policy.timeout_s:g}s; gave up")
            seen += len(part)
            if seen > limit:
                raise FetchError(asked, f"body over the limit of {limit:,} bytes (RAG_FETCH_MAX_BYTES)")
            parts.append(part)
        return b"".join(parts)

    # --- politeness --------------------------------------------------------------------------

    def _host(self, url: str) -> _Host:
        key = _origin(url)
        with self._lock:
            if key not in self._hosts:
                self._hosts[key] = _Host(threading.Semaphore(self.policy.host_concurrency))
            return self._hosts[key]

    def _pause(self, host: _Host) -> None:
        delay = self.policy.host_delay_s
        if host.robots is not None:
            crawl_delay = host.robots.crawl_delay(self.policy.robots_agent)
            if crawl_delay:
                delay = max(delay, min(float(crawl_delay), 60.0))
        with host.lock:
            now = time.monotonic()
            start = max(now, host.next_at)
            host.next_at = start + delay
        if start > now:
            time.sleep(start - now)

    def _allowed(self, url: str) -> bool:
        host = self._host(url)
        if host.robots is None or time.monotonic() - host.robots_at > _ROBOTS_TTL_S:
            host.robots = self._read_robots(url)
            host.robots_at = time.monotonic()
        return host.robots.can_fetch(self.policy.robots_agent, url)

    def _read_robots(self, url: str) -> RobotFileParser:
        origin = _origin(url)
        parser = RobotFileParser(origin + "/robots.txt")
        cached = self.robots_cache.load_robots(origin) if self.robots_cache else None
        if cached is not None and time.time() - cached[1] < _ROBOTS_TTL_S:
            text = cached[0]
        else:
            text = self._fetch_robots(url)
            if self.robots_cache:
                self.robots_cache.save_robots(origin, text)
        parser.parse(text.splitlines())
        parser.modified()
        return parser

    def _fetch_robots(self, url: str) -> str:
        """RFC 9309: a 4xx means no rules (""); a 5xx means stay out for now. An unreachable host is
        reported as such: its pages could not be fetched either."""
        current = _origin(url) + "/robots.txt"
        for _ in range(5):
            try:
                response = self._get_once(current, current, {})
            except FetchError as exc:
                if exc.reason.startswith("HTTP 4"):
                    return ""
                if exc.reason.startswith("HTTP "):
                    raise FetchError(url, f"robots.txt answered {exc.reason}, so the site is not fetched "
                                          "for now (RFC 9309)") from None
                raise FetchError(url, exc.reason) from None
            if response.status in _REDIRECTS and response.headers.get("location"):
                current = urljoin(current, response.headers["location"])
                continue
            return response.body.decode("utf-8", errors="replace")
        return ""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _status(code: int) -> str:
    """'HTTP 404 Not Found', with the standard phrase: the server's own phrase is not echoed to a terminal."""
    from http import HTTPStatus

    try:
        return f"HTTP {code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"HTTP {code}"


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        from datetime import UTC, datetime

        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None
