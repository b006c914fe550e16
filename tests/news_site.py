"""A small news site on loopback for the feed tests: RSS 2.0 and Atom feeds, article pages, robots.txt,
ETag / Last-Modified validators, redirects, slow answers and the faults a watcher meets.

Run it by hand to try `rag watch` against it:  python -m tests.news_site  (prints the feed URLs;
`curl BASE/_edit` then corrects the Velmora story, as `edit_velmora` does in the tests).
The articles are invented for these tests.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

ARTICLES = {
    "velmora-tidal": {
        "title": "Velmora council approves tidal power plant",
        "date": "2026-03-03",
        "paragraphs": [
            "The council of the harbour town of Velmora voted on Tuesday to build a tidal power plant in the "
            "old ferry basin, ending a debate that had run for almost four years.",
            "The Velmora tidal plant will have six turbines and is expected to supply about 4,000 homes once it "
            "is finished. Construction is planned to start next spring and to take two years.",
            "Mayor Ilse Brandvold said the project would cost 38 million euros, most of it paid by a regional "
            "energy fund. Fishermen who use the basin will be given new moorings on the north quay.",
            "Opponents on the council argued that the turbines could harm the seal colony near the breakwater. "
            "The council ordered a study of the colony to be published before building begins.",
        ],
    },
    "orsk-library": {
        "title": "Orsk-on-Lake library reopens after the spring flood",
        "date": "2026-03-05",
        "paragraphs": [
            "The public library of Orsk-on-Lake reopened on Thursday, eleven months after the spring flood "
            "filled its ground floor with a metre of water.",
            "Volunteers dried and saved about 9,000 books, the head librarian Tomas Reule said. The children's "
            "section has moved to the first floor, where it will stay out of reach of future floods.",
            "The town spent 1.2 million euros on the repairs, which included a new heating system and pumps "
            "that start automatically when the cellar takes on water.",
        ],
    },
    "tarnberg-glass": {
        "title": "Tarnberg glassworks hires 120 apprentices",
        "date": "2026-03-04",
        "paragraphs": [
            "The glassworks in Tarnberg announced on Wednesday that it will hire 120 apprentices this autumn, "
            "the largest intake in the company's ninety-year history.",
            "The apprentices will train as glassblowers, furnace technicians and designers over three years. "
            "The company said it needs them because a third of its workers will retire before 2030.",
            "The regional chamber of trade welcomed the plan and said it would open a second vocational class "
            "at the Tarnberg technical school to teach the apprentices.",
        ],
    },
    "dunmere-rail": {
        "title": "Rail link between Dunmere and Kesh delayed to 2028",
        "date": "2026-03-06",
        "paragraphs": [
            "The new rail link between Dunmere and Kesh will open in 2028, two years later than planned, the "
            "transport ministry said on Friday.",
            "Engineers found unstable clay under the route near the village of Holt, and a tunnel there must be "
            "redesigned. The ministry said the extra work will add 64 million euros to the cost.",
            "Commuters' groups called the delay disappointing. The bus service that replaced the old line will "
            "run every twenty minutes until the link opens.",
        ],
    },
}


def article_html(base: str, slug: str, paragraphs: list[str] | None = None, canonical: str | None = None,
                 charset: str = "utf-8") -> str:
    a = ARTICLES[slug]
    body = "\n".join(f"<p>{escape(p)}</p>" for p in (paragraphs or a["paragraphs"]))
    return f"""<!DOCTYPE html>
<html lang="en"><head>
<meta charset="{charset}">
<title>{escape(a['title'])} | Northern Coast Gazette</title>
<link rel="canonical" href="{canonical or f'{base}/news/{slug}'}">
<meta property="og:site_name" content="Northern Coast Gazette">
<meta property="og:title" content="{escape(a['title'])}">
<meta property="article:published_time" content="{a['date']}T08:00:00+00:00">
</head><body>
<header><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav></header>
<main><article>
<h1>{escape(a['title'])}</h1>
<p class="byline">By the Gazette staff, {a['date']}</p>
{body}
</article></main>
<footer><p>Northern Coast Gazette. All rights reserved.</p></footer>
</body></html>"""


def _rfc822(day: str) -> str:
    return format_datetime(datetime.fromisoformat(day + "T08:00:00+00:00"))


def rss(base: str, items: list[dict[str, str | None]], title: str = "Northern Coast Gazette") -> str:
    parts = []
    for it in items:
        link = f"<link>{escape(it['link'])}</link>" if it.get("link") else ""
        guid = f'<guid isPermaLink="false">{escape(it["guid"])}</guid>' if it.get("guid") else ""
        desc = f"<description>{escape(it['description'])}</description>" if it.get("description") else ""
        date = f"<pubDate>{_rfc822(it['date'])}</pubDate>" if it.get("date") else ""
        parts.append(f"<item><title>{escape(it.get('title') or '')}</title>{link}{guid}{date}{desc}</item>")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>{escape(title)}</title>'
            f"<link>{base}/</link><description>News from the northern coast</description>"
            + "".join(parts) + "</channel></rss>")


def atom(base: str, entries: list[dict[str, str]], title: str = "Inland Business Weekly") -> str:
    parts = []
    for e in entries:
        parts.append(
            f"<entry><title>{escape(e['title'])}</title><link rel=\"alternate\" href=\"{escape(e['link'])}\"/>"
            f"<id>{escape(e['id'])}</id><updated>{e['updated']}</updated><published>{e['date']}T08:00:00Z</published>"
            f"<summary>{escape(e.get('summary', ''))}</summary></entry>")
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{escape(title)}</title><id>{base}/business/atom.xml</id><updated>2026-03-06T09:00:00Z</updated>"
            f'<link rel="self" href="{base}/business/atom.xml"/>' + "".join(parts) + "</feed>")


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    location: str | None = None
    delay_s: float = 0.0
    fail_first: int = 0  # answer 503 this many times, then the body
    drip_s: float = 0.0  # send the body a byte at a time, this long apart
    validators: bool = True
    modified: datetime = field(default_factory=lambda: datetime(2026, 3, 6, 9, 0, tzinfo=UTC))
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'


@dataclass
class Hit:
    path: str
    status: int
    at: float
    headers: dict[str, str]


class NewsSite:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self.generated: dict[str, callable] = {}  # path prefix -> body maker  # type: ignore[valid-type]
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.robots = "User-agent: *\nDisallow: /private/\n"
        self.controls = False  # /_edit, for trying it by hand
        self.robots_location: str | None = None  # robots.txt redirects here when set
        self.in_flight = 0  # requests being answered now, and the most at once
        self.max_in_flight = 0

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> NewsSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                with site._lock:
                    site.in_flight += 1
                    site.max_in_flight = max(site.max_in_flight, site.in_flight)
                try:
                    self._get()
                finally:
                    with site._lock:
                        site.in_flight -= 1

            def _get(self) -> None:
                status, headers, body, delay = site._answer(self.path, self.headers)
                route = site.routes.get(self.path)
                drip = route.drip_s if route is not None else 0.0
                with site._lock:
                    site.hits.append(Hit(self.path, status, time.monotonic(), dict(self.headers.items())))
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if drip:
                        for i in range(len(body)):
                            self.wfile.write(body[i:i + 1])
                            self.wfile.flush()
                            time.sleep(drip)
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def set(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8", **kw: object) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        old = self.routes.get(path)
        route = Route(body=data, content_type=content_type, **kw)  # type: ignore[arg-type]
        if old is not None and old.body != data:
            route.modified = max(old.modified, datetime.now(UTC).replace(microsecond=0))
            if route.modified == old.modified:
                route.modified = old.modified.replace(second=(old.modified.second + 1) % 60)
        elif old is not None:
            route.modified = old.modified
        self.routes[path] = route

    def requests(self, path: str | None = None) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if path is None or h.path == path]

    def _answer(self, path: str, req_headers) -> tuple[int, dict[str, str], bytes, float]:  # type: ignore[no-untyped-def]
        if self.controls and path == "/_edit":
            edit_velmora(self)
            return 200, {"Content-Type": "text/plain"}, b"edited /news/velmora-tidal\n", 0.0
        if path == "/robots.txt":
            if self.robots_location:
                return 302, {"Location": self.robots_location}, b"", 0.0
            return 200, {"Content-Type": "text/plain"}, self.robots.encode(), 0.0
        route = self.routes.get(path)
        if route is None:
            for prefix, make in self.generated.items():
                if path.startswith(prefix):
                    return 200, {"Content-Type": "text/html; charset=utf-8"}, make(path).encode(), 0.0
            return 404, {"Content-Type": "text/plain"}, b"not found", 0.0
        if route.location:
            return route.status, {"Location": route.location}, b"", 0.0
        if route.fail_first > 0:
            route.fail_first -= 1
            return 503, {"Content-Type": "text/plain", "Retry-After": "0"}, b"busy", 0.0
        headers = {"Content-Type": route.content_type, **route.headers}
        if route.status == 200 and route.validators:
            headers["ETag"] = route.etag
            headers["Last-Modified"] = format_datetime(route.modified, usegmt=True)
            inm = req_headers.get("If-None-Match")
            ims = req_headers.get("If-Modified-Since")
            if inm is not None:
                if route.etag in [t.strip() for t in inm.split(",")]:
                    return 304, {"ETag": route.etag}, b"", route.delay_s
            elif ims is not None:
                try:
                    if parsedate_to_datetime(ims) >= route.modified:
                        return 304, {}, b"", route.delay_s
                except (TypeError, ValueError):
                    pass
        return route.status, headers, route.body, route.delay_s


def build_site(site: NewsSite) -> dict[str, str]:
    """The healthy part of the site: an RSS feed and an Atom feed with two articles each.
    Returns their URLs by name."""
    base = site.base
    for slug in ARTICLES:
        site.set(f"/news/{slug}", article_html(base, slug))
    # The RSS feed links through a tracking redirect, as feeds often do; the canonical URL is the id.
    site.set("/r/velmora-tidal", "", status=301, location=f"{base}/news/velmora-tidal")
    rss_items = [
        {"title": ARTICLES["velmora-tidal"]["title"], "link": f"{base}/r/velmora-tidal", "guid": "gazette-1001",
         "date": ARTICLES["velmora-tidal"]["date"], "description": "Six turbines in the old ferry basin."},
        {"title": ARTICLES["orsk-library"]["title"], "link": f"{base}/news/orsk-library", "guid": "gazette-1002",
         "date": ARTICLES["orsk-library"]["date"], "description": "The library is open again."},
    ]
    site.set("/news/rss.xml", rss(base, rss_items), "application/rss+xml; charset=utf-8")
    atom_entries = [
        {"title": ARTICLES[s]["title"], "link": f"{base}/news/{s}", "id": f"tag:inland.example,2026:{s}",
         "updated": f"{ARTICLES[s]['date']}T08:00:00Z", "date": ARTICLES[s]["date"], "summary": "Business news."}
        for s in ("tarnberg-glass", "dunmere-rail")
    ]
    site.set("/business/atom.xml", atom(base, atom_entries), "application/atom+xml")
    return {"rss": f"{base}/news/rss.xml", "atom": f"{base}/business/atom.xml"}


def edit_velmora(site: NewsSite) -> None:
    """The Gazette corrects the Velmora story: eight turbines, not six; the feed item says so too."""
    base = site.base
    paragraphs = list(ARTICLES["velmora-tidal"]["paragraphs"])
    paragraphs[1] = paragraphs[1].replace("six turbines", "eight turbines").replace("4,000", "5,500")
    site.set("/news/velmora-tidal", article_html(base, "velmora-tidal", paragraphs))
    feed = site.routes["/news/rss.xml"].body.decode()
    feed = feed.replace("Six turbines in the old ferry basin.", "Corrected: eight turbines in the old ferry basin.")
    site.set("/news/rss.xml", feed, "application/rss+xml; charset=utf-8")


if __name__ == "__main__":
    demo = NewsSite().start()
    demo.controls = True
    urls = build_site(demo)
    print("\n".join(urls.values()), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        demo.stop()
