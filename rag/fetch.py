"""Polite, bounded and address-checked HTTP GETs for feeds and article pages.

One `Fetcher` per process (`shared_fetcher`): a descriptive User-Agent, robots.txt obeyed
(urllib.robotparser), a per-host pause and in-flight limit keyed by the host's resolved address
(so `localhost`, `127.1` and `0x7f.1` are one host), timeouts, a size limit counted on the decoded
body as it is decompressed (a bounded piece at a time), redirects followed one hop at a time (each
hop is checked against the address policy and robots.txt, and the loop is named), conditional
GETs, and bounded retries with exponential backoff for what may pass: timeouts, dropped
connections, 408, 429 and 5xx, never past the caller's deadline. Every connection goes through
the address policy (rag.addresses). Every failure is a `FetchError` whose reason is one line and
never holds a URL's credentials.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from rag.addresses import AddressPolicy, AddressRefused, Unreachable, guarded_transport, host_key
from rag.errors import RagError
from rag.hygiene import redact_credentials

if TYPE_CHECKING:
    import httpx

    from rag.config import Settings

_REDIRECTS = {301, 302, 303, 307, 308}
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}
_ROBOTS_TTL_S = 3600.0
# A fetch waits at most this long before a retry; a server asking for longer (Retry-After: 60) is
# tried again next pass instead of holding the pass (issue 27, row 4).
_MAX_RETRY_WAIT_S = 10.0
_PIECE = 64 * 1024  # decoded bytes produced per decompression step


class FetchError(RagError):
    """A URL could not be fetched; `reason` is one line."""

    def __init__(self, url: str, reason: str) -> None:
        url, reason = redact_credentials(url), redact_credentials(reason)
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
    addresses: AddressPolicy = field(default_factory=AddressPolicy)
    # what one page may cost once fetched (rag.web.page_article): text kept, extraction time
    max_text_chars: int = 200_000
    extract_timeout_s: float | None = None  # None: extracted in this process, without a budget

    @classmethod
    def from_settings(cls, s: Settings) -> Politeness:
        return cls(user_agent=s.fetch_user_agent, timeout_s=s.fetch_timeout_s, max_bytes=s.fetch_max_bytes,
                   retries=s.fetch_retries, backoff_s=s.fetch_backoff_s, max_redirects=s.fetch_max_redirects,
                   host_delay_s=s.fetch_host_delay_s, host_concurrency=s.fetch_host_concurrency,
                   addresses=AddressPolicy.from_settings(s), max_text_chars=s.fetch_max_text_chars,
                   extract_timeout_s=s.fetch_extract_timeout_s)

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


@dataclass
class _Robots:
    parser: RobotFileParser | None = None
    at: float = -_ROBOTS_TTL_S
    lock: threading.Lock = field(default_factory=threading.Lock)


def check_url(url: str) -> str:
    """The URL without its fragment, or a FetchError saying why it is not one we fetch: not
    http(s), no host, or a user name or password in it (refused, and never shown)."""
    if len(url) > 2000:
        raise FetchError(url[:80] + "…", "URL longer than 2,000 characters")
    if any(ch.isspace() or ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in url.strip()):
        raise FetchError(url.strip()[:200].encode("utf-8", "replace").decode(),
                         "not a valid URL (it contains spaces, control characters or unpaired surrogates)")
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise FetchError(url, f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchError(url, "not an http(s) URL with a host")
    if "@" in parts.netloc:
        raise FetchError(url, "has a user name or password in it; URLs with credentials are not fetched")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise FetchError(url, "not a valid URL (bad port)") from None
    import httpx

    try:
        httpx.URL(url.strip())
    except httpx.InvalidURL as exc:
        raise FetchError(url, f"not a valid URL ({_short(exc)})") from None
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
        self._robots: dict[str, _Robots] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                import httpx

                p = self.policy
                limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
                # Proxies from the environment are not used (trust_env=False): the address policy
                # must see the real destination.
                self._client = httpx.Client(
                    headers={"User-Agent": p.user_agent, "Accept-Encoding": "gzip, deflate",
                             "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
                                       "text/xml;q=0.9, text/html;q=0.8, */*;q=0.5"},
                    timeout=httpx.Timeout(p.timeout_s), follow_redirects=False, trust_env=False,
                    transport=self._transport or guarded_transport(p.addresses, limits), limits=limits)
            return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None,
            deadline: float | None = None) -> Response:
        """GET `url` following redirects; 304 comes back as a Response when validators were sent.
        `deadline` (time.monotonic()) bounds the whole fetch, retries and waits included."""
        url = check_url(url)
        conditional = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if v}
        hops = [url]
        current = url
        while True:
            self._vet(url, current)  # before robots.txt: a refused host is not asked anything
            if not self._allowed(current, deadline):
                raise FetchError(url, f"robots.txt of {_origin(current)} disallows it for "
                                      f"{self.policy.robots_agent!r}" + (f" (redirected to {current})"
                                                                         if current != url else ""))
            response = self._get_once(url, current, conditional, deadline)
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

    def _vet(self, asked: str, url: str) -> list[str]:
        """The addresses of `url`'s host, or a FetchError when the address policy refuses them."""
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        try:
            return self.policy.addresses.vet(parts.hostname or "", port)
        except AddressRefused as exc:
            raise FetchError(asked, exc.reason + (f" (redirected to {url})" if url != asked else "")) from None
        except Unreachable:
            return []  # said as "cannot connect" by the request itself

    # --- one request, with retries -----------------------------------------------------------

    def _get_once(self, asked: str, url: str, headers: dict[str, str], deadline: float | None = None) -> Response:
        p = self.policy
        attempts = 0
        while True:
            attempts += 1
            try:
                return self._request(asked, url, headers, deadline)
            except _Retryable as exc:
                reason, after = exc.reason, exc.retry_after
            wait = max(p.backoff_s * (2 ** (attempts - 1)), after or 0.0)
            give_up = ""
            if attempts > p.retries:
                give_up = f" (after {attempts} attempts)" if attempts > 1 else ""
            elif after is not None and after > _MAX_RETRY_WAIT_S:
                give_up = (f" (asked to retry after {after:g}s, longer than a fetch waits; "
                           "tried again next pass)")
            elif deadline is not None and time.monotonic() + wait >= deadline:
                give_up = " (no time left in this pass to retry; tried again next pass)"
            if give_up:
                raise FetchError(asked, reason + give_up + (f" at {url}" if url != asked else ""))
            time.sleep(wait)

    def _request(self, asked: str, url: str, headers: dict[str, str], deadline: float | None = None) -> Response:
        import httpx

        where = f" at {url}" if url != asked else ""
        timeout = self.policy.timeout_s
        if deadline is not None:
            timeout = min(timeout, deadline - time.monotonic())
            if timeout <= 0:
                raise FetchError(asked, "no time left in this pass; tried again next pass" + where)
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        try:  # decided here for the message and the host key, and again at connect (rebinding)
            addresses = self.policy.addresses.vet(parts.hostname or "", port)
        except AddressRefused as exc:
            raise FetchError(asked, exc.reason + where) from None
        except Unreachable:
            raise _Retryable(f"cannot connect to {_origin(url)}") from None
        host = self._host(host_key(addresses))
        with host.slots:
            self._pause(host, self._crawl_delay(url))
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    raise FetchError(asked, "no time left in this pass; tried again next pass" + where)
            try:
                with self.client.stream("GET", url, headers=headers, timeout=httpx.Timeout(timeout)) as r:
                    out_headers = {k.lower(): v for k, v in r.headers.items()}
                    if r.status_code in _RETRY_STATUS:
                        raise _Retryable(_status(r.status_code),
                                         _retry_after(out_headers.get("retry-after")))
                    if r.status_code in _REDIRECTS or r.status_code == 304:
                        return Response(asked, url, r.status_code, out_headers)
                    if r.status_code >= 400 or r.status_code < 200:
                        raise FetchError(asked, _status(r.status_code) + where)
                    body = self._read_limited(asked, r, deadline)
                    return Response(asked, url, r.status_code, out_headers, body)
            except AddressRefused as exc:  # at connect: the name now resolves somewhere else
                raise FetchError(asked, exc.reason + where) from None
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if "CERTIFICATE" in str(exc).upper() and parts.scheme.lower() == "https":
                    # the server answered: its certificate is not trusted or not for this name
                    raise FetchError(asked, f"TLS certificate of {_origin(url)} could not be verified "
                                            f"({_short(exc)})") from None
                # One reason for every way a connection fails (refused, unreachable, no route,
                # timed out, no such name): the errors must not map ports and services (row 2).
                raise _Retryable(f"cannot connect to {_origin(url)}") from None
            except httpx.TimeoutException as exc:
                raise _Retryable(f"timed out after {timeout:g}s ({type(exc).__name__})") from None
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                raise _Retryable(f"connection dropped ({_short(exc)})") from None
            except httpx.DecodingError as exc:
                raise FetchError(asked, f"undecodable body ({_short(exc)})") from None
            except httpx.HTTPError as exc:
                raise FetchError(asked, f"{type(exc).__name__}: {_short(exc)}") from None

    def _read_limited(self, asked: str, r: httpx.Response, deadline: float | None = None) -> bytes:
        limit = self.policy.max_bytes
        declared = r.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(asked, f"body of {int(declared):,} bytes is over the limit of {limit:,} "
                                    "(RAG_FETCH_MAX_BYTES)")
        decoder = _Decoder(asked, r.headers.get("content-encoding", ""))
        parts: list[bytes] = []
        seen = 0
        # The timeout is per read; a server dripping a byte at a time gets a deadline for the whole body.
        body_s = 4 * self.policy.timeout_s
        until = time.monotonic() + body_s
        if deadline is not None and deadline < until:
            until, body_s = deadline, max(0.0, deadline - time.monotonic())
        for raw in r.iter_raw():  # still compressed: decoded below a bounded piece at a time
            if time.monotonic() > until:
                raise FetchError(asked, f"body still arriving after {body_s:g}s; gave up")
            for part in decoder.decode(raw):  # a small gzip bomb is counted at full size, 64 KiB at a time
                seen += len(part)
                if seen > limit:
                    raise FetchError(asked, f"body over the limit of {limit:,} bytes (RAG_FETCH_MAX_BYTES)")
                parts.append(part)
        parts.extend(decoder.flush())
        if sum(len(p) for p in parts) > limit:
            raise FetchError(asked, f"body over the limit of {limit:,} bytes (RAG_FETCH_MAX_BYTES)")
        return b"".join(parts)

    # --- politeness --------------------------------------------------------------------------

    def _host(self, key: str) -> _Host:
        """The politeness state of one host, keyed by its resolved address (row 6)."""
        with self._lock:
            if key not in self._hosts:
                self._hosts[key] = _Host(threading.Semaphore(self.policy.host_concurrency))
            return self._hosts[key]

    def _robots_of(self, url: str) -> _Robots:
        with self._lock:
            return self._robots.setdefault(_origin(url), _Robots())

    def _crawl_delay(self, url: str) -> float:
        parser = self._robots_of(url).parser
        crawl_delay = parser.crawl_delay(self.policy.robots_agent) if parser is not None else None
        return min(float(crawl_delay), 60.0) if crawl_delay else 0.0

    def _pause(self, host: _Host, crawl_delay: float = 0.0) -> None:
        delay = max(self.policy.host_delay_s, crawl_delay)
        with host.lock:
            now = time.monotonic()
            start = max(now, host.next_at)
            host.next_at = start + delay
        if start > now:
            time.sleep(start - now)

    def _allowed(self, url: str, deadline: float | None = None) -> bool:
        robots = self._robots_of(url)
        with robots.lock:  # one robots.txt fetch per origin, however many threads ask
            if robots.parser is None or time.monotonic() - robots.at > _ROBOTS_TTL_S:
                robots.parser = self._read_robots(url, deadline)
                robots.at = time.monotonic()
            parser = robots.parser
        return parser.can_fetch(self.policy.robots_agent, url)

    def _read_robots(self, url: str, deadline: float | None = None) -> RobotFileParser:
        origin = _origin(url)
        parser = RobotFileParser(origin + "/robots.txt")
        cached = self.robots_cache.load_robots(origin) if self.robots_cache else None
        if cached is not None and time.time() - cached[1] < _ROBOTS_TTL_S:
            text = cached[0]
        else:
            text = self._fetch_robots(url, deadline)
            if self.robots_cache:
                self.robots_cache.save_robots(origin, text)
        parser.parse(text.splitlines())
        parser.modified()
        return parser

    def _fetch_robots(self, url: str, deadline: float | None = None) -> str:
        """RFC 9309: a 4xx means no rules (""); a 5xx means stay out for now. An unreachable host is
        reported as such: its pages could not be fetched either. Each redirect hop goes through
        check_url and the address policy like any other request."""
        first = current = _origin(url) + "/robots.txt"
        for _ in range(5):
            try:
                response = self._get_once(current, current, {}, deadline)
            except FetchError as exc:
                if exc.reason.startswith("HTTP 4"):
                    return ""
                if exc.reason.startswith("HTTP "):
                    raise FetchError(url, f"robots.txt answered {exc.reason}, so the site is not fetched "
                                          "for now (RFC 9309)") from None
                raise FetchError(url, exc.reason if current == first
                                 else f"robots.txt redirected to {current}: {exc.reason}") from None
            if response.status in _REDIRECTS and response.headers.get("location"):
                try:
                    current = check_url(urljoin(current, response.headers["location"]))
                except FetchError as exc:
                    raise FetchError(url, f"robots.txt redirected to {exc.url}: {exc.reason}") from None
                continue
            return response.body.decode("utf-8", errors="replace")
        return ""


class _Decoder:
    """Content-Encoding undone a bounded piece at a time: httpx decompresses each network read
    whole, so 64 KiB of gzip could become 64 MB in one step before any limit is looked at (row 7)."""

    def __init__(self, asked: str, encoding: str) -> None:
        codings = [c.strip().lower() for c in encoding.split(",") if c.strip() and c.strip().lower() != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(asked, f"unsupported Content-Encoding {encoding[:40]!r}")
        self.coding = codings[0] if codings else ""
        self._z: zlib._Decompress | None = None
        if self.coding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._asked = asked
        self._first = True

    def decode(self, data: bytes) -> Iterator[bytes]:
        if not self.coding:
            yield data
            return
        if self._z is None:  # deflate: zlib-wrapped as the RFC says, or raw as some servers send
            self._z = zlib.decompressobj(zlib.MAX_WBITS if data[:1] and (data[0] & 0x0F) == 8 and
                                         int.from_bytes(data[:2], "big") % 31 == 0 else -zlib.MAX_WBITS)
        try:
            while data:
                piece = self._z.decompress(data, _PIECE)
                if piece:
                    yield piece
                data = self._z.unconsumed_tail
                if self._z.eof:
                    return
        except zlib.error as exc:
            raise FetchError(self._asked, f"undecodable body ({self.coding}: {exc})") from None

    def flush(self) -> list[bytes]:
        if self._z is None:
            return []
        try:
            rest = self._z.flush(_PIECE)
        except zlib.error as exc:
            raise FetchError(self._asked, f"undecodable body ({self.coding}: {exc})") from None
        return [rest] if rest else []


_SHARED: dict[Politeness, Fetcher] = {}
_SHARED_LOCK = threading.Lock()


def shared_fetcher(policy: Politeness, robots_cache: RobotsCache | None = None) -> Fetcher:
    """The process's Fetcher for these settings: every pass, refresh and ingest in one process
    shares its per-host limits and robots.txt cache (row 6). Never closed; it lives as long as
    the process."""
    with _SHARED_LOCK:
        if policy not in _SHARED:
            _SHARED[policy] = Fetcher(policy)
        fetcher = _SHARED[policy]
        if fetcher.robots_cache is None:
            fetcher.robots_cache = robots_cache
        return fetcher


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
