"""Fetched bytes -> articles: an HTML page through trafilatura, an RSS/Atom feed through feedparser.

An article's id is its canonical URL (the page's <link rel=canonical> or og:url, else the URL it
was finally served from), so fetching it again is idempotent and an edited page replaces its
chunks. A canonical URL is taken only on the page's own origin (scheme, host, port): a page
cannot give its text another site's article id (issue 27, row 3). Every refusal is a LoadError
naming the URL and one reason.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from rag.errors import LoadError
from rag.fetch import Response
from rag.loaders import first_sentence
from rag.types import Article

HTML_TYPES = {"text/html", "application/xhtml+xml"}
FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml",
              "text/xml", "application/feed+xml"}
_FEED_START = re.compile(rb"\A(\xef\xbb\xbf)?\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(rss|feed|rdf:RDF)\b", re.S)
_BLOCKS = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr", "section", "article"}


@dataclass(frozen=True)
class Entry:
    """One feed item, before its page is fetched."""

    key: str  # guid/id, else link: what "seen" remembers
    link: str | None
    title: str | None
    published_at: str | None
    text: str | None  # the entry's own content or summary, as plain text
    fingerprint: str  # changes when the feed says the item changed
    position: int  # 1-based, as listed


@dataclass(frozen=True)
class Feed:
    url: str
    title: str | None
    entries: list[Entry]
    warning: str | None = None  # e.g. a charset the feed declared wrongly


def looks_like_feed(response: Response) -> bool:
    if response.content_type in HTML_TYPES:
        return False
    return response.content_type in FEED_TYPES or bool(_FEED_START.match(response.body[:4096]))


def parse_feed(response: Response) -> Feed:
    import feedparser

    where = response.url
    if response.content_type in HTML_TYPES or response.body.lstrip()[:15].lower().startswith((b"<!doctype html",
                                                                                             b"<html")):
        raise LoadError(where, f"not an RSS or Atom feed (an HTML page, {response.content_type or 'no type'})")
    headers = {"content-type": response.headers.get("content-type", "application/xml"),
               "content-location": response.final_url}
    parsed = feedparser.parse(response.body, response_headers=headers, sanitize_html=True,
                              resolve_relative_uris=True)
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        kind = response.content_type or "no content type"
        raise LoadError(where, f"not an RSS or Atom feed ({kind}; not well-formed XML: {_first_line(problem)})"
                        if problem else f"not an RSS or Atom feed ({kind}; no <rss>, <feed> or <rdf:RDF> root)")
    warning = None
    problem = parsed.get("bozo_exception")
    if parsed.get("bozo") and problem is not None:
        warning = f"feed is not clean XML, read leniently ({_first_line(problem)})"
    entries = [_entry(raw, i) for i, raw in enumerate(parsed.entries, start=1)]
    title = "".join(ch for ch in parsed.feed.get("title") or "" if ch.isprintable()).strip()
    return Feed(url=where, title=title[:200] or None, entries=entries, warning=warning)


def _entry(raw: Any, position: int) -> Entry:
    link = (raw.get("link") or "").strip() or None
    if link is None:
        for candidate in raw.get("links") or []:
            if candidate.get("href") and candidate.get("rel", "alternate") == "alternate":
                link = candidate["href"].strip()
                break
    content = ""
    if raw.get("content"):
        content = max((c.get("value") or "" for c in raw["content"]), key=len)
    content = content or raw.get("summary") or ""
    text = html_to_text(content) if content else None
    parsed_date = raw.get("published_parsed") or raw.get("updated_parsed")
    published = time.strftime("%Y-%m-%d", parsed_date) if parsed_date else None
    key = (raw.get("id") or "").strip() or link or ""
    title = (raw.get("title") or "").strip() or None
    fingerprint = hashlib.sha256(json.dumps(
        [key, link, title, dict.get(raw, "updated") or dict.get(raw, "published") or "", text or ""], ensure_ascii=False
    ).encode()).hexdigest()[:24]
    return Entry(key=key, link=link, title=title, published_at=published, text=text or None,
                 fingerprint=fingerprint, position=position)


def html_to_text(fragment: str) -> str:
    """An HTML fragment (a feed's content or summary) as paragraphs of plain text."""
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return " ".join(fragment.split())
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    for el in root.iter():
        if el.tag == "br":
            el.tail = "\n" + (el.tail or "")
        elif el.tag in _BLOCKS:
            el.tail = "\n\n" + (el.tail or "")
    text = root.text_content()
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


def page_article(response: Response, entry: Entry | None = None, *, max_chars: int = 200_000,
                 timeout_s: float | None = None) -> Article:
    """The article on an HTML page. Metadata the page lacks comes from the feed entry. At most
    `max_chars` of text are kept (cut at a paragraph end); extraction gets `timeout_s` seconds."""
    from rag.extract import ExtractionTimeout, extract

    where = response.url
    kind = response.content_type
    if kind and kind not in HTML_TYPES:
        raise LoadError(where, f"not an HTML page (content type {kind})")
    if b"\x00" in response.body[:4096]:
        raise LoadError(where, "not an HTML page (binary content)")
    content: str | bytes = response.body
    charset = response.charset
    if charset:
        try:
            content = response.body.decode(charset)
        except LookupError:
            raise LoadError(where, f"unknown charset {charset!r} in its Content-Type") from None
        except UnicodeDecodeError as exc:
            raise LoadError(where, f"declares charset {charset} but byte {exc.start} is not valid "
                                   f"{charset}") from None
    try:
        doc = extract(content, response.final_url, timeout_s) or {}
    except ExtractionTimeout as exc:
        raise LoadError(where, str(exc)) from None
    body = doc.get("text") or ""
    title = (doc.get("title") or "").strip() or (entry.title if entry else None) or ""
    lines = [line.strip() for line in body.split("\n") if line.strip()]
    if lines and title and lines[0] == title:
        lines = lines[1:]
    text = _capped("\n\n".join(lines).strip(), max_chars)
    if not text:
        raise LoadError(where, "no article text found in the page")
    canonical = canonical_url(doc.get("url"), response.final_url)
    return Article(
        id=canonical,
        text=text,
        title=title or first_sentence(text),
        url=canonical,
        source=(doc.get("sitename") or "").strip() or _host(canonical),
        published_at=_iso_date(doc.get("date")) or (entry.published_at if entry else None),
    )


def _capped(text: str, max_chars: int) -> str:
    """At most `max_chars` of text, ending at a paragraph (else a sentence, else a word) end."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    for sep in ("\n\n", ". ", " "):
        at = cut.rfind(sep)
        if at > max_chars // 2:
            return cut[:at + (1 if sep == ". " else 0)].rstrip()
    return cut


def entry_article(entry: Entry, feed: Feed) -> Article:
    """The article made of a feed entry's own text, for when its page cannot be fetched."""
    assert entry.text and entry.link
    url = canonical_url(None, entry.link)
    return Article(id=url, text=entry.text, title=entry.title or first_sentence(entry.text), url=url,
                   source=feed.title or _host(url), published_at=entry.published_at)


def canonical_url(declared: str | None, served_from: str) -> str:
    """The declared canonical URL when it is on the origin the page was served from, else that
    URL; without fragment or credentials, scheme and host lower-cased."""
    url = urljoin(served_from, declared.strip()) if declared and declared.strip() else served_from
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or _origin_of(url) != _origin_of(served_from):
        parts = urlsplit(served_from)
    host = (parts.hostname or "").lower()
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(fragment="", scheme=parts.scheme.lower(), netloc=netloc))


def _origin_of(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _iso_date(value: Any) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value).strip()[:10]).isoformat()
    except ValueError:
        return None


def _first_line(exc: Any) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
