"""Watched feeds: their state next to the store, and one polling pass over them.

State lives in its own Chroma collection, `<stem>-feeds`, beside the store's own collections, so it
survives restarts and two watchers against one `chroma run` server share it: one record per feed
(id = feed URL) holding its validators (ETag, Last-Modified), the last check and error, a short
lease that keeps a second watcher off a feed being polled, and (as the document) the entries
already ingested with their fingerprints.

A pass: claim each feed, send a conditional GET (an unchanged feed costs one 304), fetch the page
of each new or changed entry (at most `feed_max_entries` per feed per pass; the rest wait for the
next pass, kept in the state as `pending` so the validators can be kept too and the feed is not
downloaded and parsed again for them), fall back to the entry's own text when the page cannot be
fetched, write all articles with one `Pipeline.ingest`, then save each feed's state, for the feeds
that are still watched. State is saved only after the articles are written, so an interrupted pass
loses nothing: it is simply done again. A pass has a time budget (`feed_pass_budget_s`); the lease
on a feed outlives it.

Ownership (issue 27, row 3): an article id is owned by the feed entry that first wrote it (its
`seen` record). A different entry, of this feed or another, never overwrites or deletes it; it
records the id as shared. The one exception is a stronger claim: the page served at the id's URL
itself is stronger than a page of the same origin naming that URL as its canonical, which is
stronger than a feed entry's own text standing in for a page that could not be fetched.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from rag.addresses import AddressPolicy, AddressRefused, Unreachable
from rag.errors import LoadError, RagError
from rag.fetch import Fetcher, FetchError, Politeness, Response, check_url, shared_fetcher
from rag.hygiene import redact_credentials
from rag.types import Article
from rag.web import Entry, Feed, canonical_url, entry_article, looks_like_feed, page_article, parse_feed

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

_LEASE_MARGIN_S = 120.0  # a lease lasts the pass budget plus this: it outlives any pass (row 12)
_ROBOTS = "robots:"
# Entries remembered per feed: all that the feed lists now, plus this many it no longer lists
# (the most recent), so a large feed does not churn and a feed that re-lists old items is not
# re-fetched for them for a while.
_MAX_UNLISTED_SEEN = 2000
Outcome = Literal["new", "updated", "unchanged", "failed"]


def chroma_client(pipeline: Pipeline) -> Any:
    """The store's Chroma client. The one place feeds reach into the store (re-point it here when
    the store changes shape)."""
    return pipeline.store.client


def collection_name(pipeline: Pipeline) -> str:
    return f"{pipeline.store.stem}-feeds"


class FeedNotFound(RagError):
    pass


class TooManyFeeds(RagError):
    pass


@dataclass
class FeedState:
    url: str
    added_at: str
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_checked: str | None = None
    last_status: str | None = None  # "200", "304", "failed"
    last_error: str | None = None
    lease_holder: str | None = None
    lease_until: float = 0.0
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)  # entry key -> {"fp", "id", "full"[, "shared"]}
    # entries listed but deferred: [key, link, fingerprint, title, published_at, text (first 2,000 characters)]
    pending: list[list[Any]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("seen", "pending", "lease_holder",
                                                                   "lease_until")}
        out["url"] = redact_credentials(self.url)
        if self.last_error:
            out["last_error"] = redact_credentials(self.last_error)
        out["entries_seen"] = len(self.seen)
        out["entries_pending"] = len(self.pending)
        return out


class FeedStore:
    """Feed records in one Chroma collection (no vectors: each gets the placeholder [1.0])."""

    def __init__(self, client_factory: Callable[[], Any], name: str) -> None:
        self._client_factory = client_factory
        self.name = name
        self._collection: Any = None

    @classmethod
    def for_pipeline(cls, pipeline: Pipeline) -> FeedStore:
        return cls(lambda: chroma_client(pipeline), collection_name(pipeline))

    @property
    def collection(self) -> Any:
        if self._collection is None:
            self._collection = self._client_factory().get_or_create_collection(self.name, embedding_function=None)
        return self._collection

    def add(self, url: str, addresses: AddressPolicy | None = None,
            max_feeds: int | None = None) -> tuple[FeedState, bool]:
        """(state, created): adding a feed already watched changes nothing. A URL the address
        policy refuses, or one past `max_feeds`, is a FetchError / TooManyFeeds."""
        url = check_url(url)
        if addresses is not None:
            parts = urlsplit(url)
            try:
                addresses.vet(parts.hostname or "", parts.port or (443 if parts.scheme.lower() == "https" else 80))
            except AddressRefused as exc:
                raise FetchError(url, exc.reason) from None
            except Unreachable:
                pass  # said at the first pass, as "cannot connect", like every connection failure
        found = self.get(url)
        if found is not None:
            return found, False
        if max_feeds is not None and len(self.urls()) >= max_feeds:
            raise TooManyFeeds(f"{url}: not added: this store already watches {max_feeds:,} feeds "
                               "(RAG_FEEDS_MAX); remove some with `rag feeds remove`")
        state = FeedState(url=url, added_at=_now())
        self.save(state)
        return state, True

    def urls(self) -> list[str]:
        got = self.collection.get(include=[])
        return [i for i in got["ids"] if not i.startswith(_ROBOTS)]

    def remove(self, url: str) -> None:
        """Stop watching `url`, given as stored or as listed (credentials shown as `***@`)."""
        key = url.strip()
        if self.get(key) is None:
            listed = [u for u in self.urls() if redact_credentials(u) == key]
            if len(listed) != 1:
                raise FeedNotFound(f"{key}: not a watched feed; see `rag feeds list`")
            key = listed[0]
        self.collection.delete(ids=[key])

    def get(self, url: str) -> FeedState | None:
        if url.strip().startswith(_ROBOTS):
            return None
        got = self.collection.get(ids=[url.strip()], include=["metadatas", "documents"])
        if not got["ids"]:
            return None
        return _state(got["ids"][0], got["metadatas"][0], got["documents"][0])

    def list(self) -> list[FeedState]:
        got = self.collection.get(include=["metadatas", "documents"])
        states = [_state(i, m, d) for i, m, d in zip(got["ids"], got["metadatas"], got["documents"], strict=True)
                  if not i.startswith(_ROBOTS)]
        return sorted(states, key=lambda s: (s.added_at, s.url))

    # robots.txt files, kept so a watcher started by cron does not fetch them on every run
    def load_robots(self, origin: str) -> tuple[str, float] | None:
        got = self.collection.get(ids=[_ROBOTS + origin], include=["metadatas", "documents"])
        if not got["ids"]:
            return None
        return got["documents"][0] or "", float((got["metadatas"][0] or {}).get("fetched_at", 0.0))

    def save_robots(self, origin: str, text: str) -> None:
        self.collection.upsert(ids=[_ROBOTS + origin], embeddings=[[1.0]], documents=[text],
                               metadatas=[{"kind": "robots", "fetched_at": time.time()}])

    def save(self, state: FeedState) -> None:
        # None is written too: Chroma merges an upsert's metadata into the old one, and None is
        # what removes a key (a cleared error, validators dropped after a failure, a lease let go).
        meta = {k: v for k, v in state.__dict__.items() if k not in ("seen", "pending")}
        document = {"v": 2, "seen": state.seen, "pending": state.pending}
        self.collection.upsert(ids=[state.url], embeddings=[[1.0]], metadatas=[meta],
                               documents=[json.dumps(document, ensure_ascii=False)])

    def claim(self, url: str, holder: str, lease_s: float = 600.0 + _LEASE_MARGIN_S) -> FeedState | None:
        """The feed's state with a lease taken for `holder`, or None while another watcher holds it.
        Chroma has no compare-and-set: the lease is written, then read back after a moment, and
        the watcher whose id is there goes ahead. Should both slip through, writes stay idempotent
        (articles are keyed by canonical URL and content hash), so the cost is a repeated fetch."""
        state = self.get(url)
        if state is None:
            return None
        if state.lease_holder not in (None, holder) and state.lease_until > time.time():
            return None
        state.lease_holder, state.lease_until = holder, time.time() + lease_s
        self.save(state)
        time.sleep(0.2)
        again = self.get(url)
        if again is None or again.lease_holder != holder:
            return None
        return again


def _state(url: str, meta: dict[str, Any] | None, document: str | None) -> FeedState:
    meta = dict(meta or {})
    known = set(FeedState.__dataclass_fields__) - {"seen", "url"}
    values = {k: v for k, v in meta.items() if k in known}
    values.setdefault("added_at", "")
    try:
        doc = json.loads(document or "{}")
    except ValueError:
        doc = {}
    doc = doc if isinstance(doc, dict) else {}
    pending: list[list[Any]] = []
    if isinstance(doc.get("v"), int):  # {"v": 2, "seen": ..., "pending": ...}; before: the seen map itself
        pending = [p for p in doc.get("pending") or [] if isinstance(p, list) and len(p) == 6]
        doc = doc.get("seen") if isinstance(doc.get("seen"), dict) else {}
    return FeedState(url=url, seen=doc, pending=pending, **values)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


# --- a pass ------------------------------------------------------------------------------------


@dataclass
class Problem:
    where: str  # the feed or URL
    reason: str
    failed: bool = True  # False: a notice (the article was still ingested, or the rest waits)

    def line(self) -> str:
        return redact_credentials(f"{'error' if self.failed else 'warning'}: {self.where}: {self.reason}")

    def as_dict(self) -> dict[str, Any]:
        return {"where": redact_credentials(self.where), "reason": redact_credentials(self.reason),
                "failed": self.failed}


@dataclass
class FeedResult:
    url: str
    status: str = ""  # "200", "304", "failed", "skipped" (another watcher has it), "deferred" (out of time)
    entries: int = 0
    problems: list[Problem] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=lambda: {"new": 0, "updated": 0, "unchanged": 0,
                                                                "failed": 0})
    changed: int = 0  # new or changed entries taken this pass
    deferred: int = 0

    def line(self) -> str:
        if self.status == "failed":
            return f"{self.url}: failed"
        if self.status == "304":
            retried = (f"; {self.changed} waiting page(s) fetched (left from an earlier pass or failed before)"
                       if self.changed else "")
            return f"{self.url}: not modified (304){retried}"
        if self.status == "skipped":
            return f"{self.url}: skipped (another watcher is polling it)"
        if self.status == "deferred":
            return f"{self.url}: deferred to the next pass"
        return (f"{self.url}: {self.entries} entries, {self.changed} new or changed"
                + (f", {self.deferred} left for the next pass" if self.deferred else ""))


@dataclass
class PassReport:
    feeds: list[FeedResult] = field(default_factory=list)

    def total(self, outcome: str) -> int:
        return sum(f.outcomes[outcome] for f in self.feeds)

    @property
    def problems(self) -> list[Problem]:
        return [p for f in self.feeds for p in f.problems]

    @property
    def failed(self) -> int:
        return sum(1 for p in self.problems if p.failed)

    def summary(self) -> str:
        not_modified = sum(1 for f in self.feeds if f.status == "304")
        return (f"{len(self.feeds)} feeds ({not_modified} not modified): {self.total('new')} new, "
                f"{self.total('updated')} updated, {self.total('unchanged')} unchanged, {self.failed} failed")

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": {k: self.total(k) for k in ("new", "updated", "unchanged")} | {"failed": self.failed},
            "feeds": [{"url": redact_credentials(f.url), "status": f.status, "entries": f.entries,
                       "deferred": f.deferred, **f.outcomes} for f in self.feeds],
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass
class _Work:
    """One entry's article, waiting to be written; `entry` is None for a page given directly."""

    article: Article
    feed: str | None
    entry: Entry | None
    full: bool  # from its page (False: from the feed entry's own text)
    rank: int = 2  # how strong its claim to the id is: 2 the page at that URL, 1 a page naming it canonical,
    #                0 a feed entry's own text
    shared: bool = False  # the id is another entry's: not written, recorded as shared

    @property
    def source(self) -> str | None:
        return f"{self.feed}\n{self.entry.key}" if self.feed and self.entry else None


@dataclass
class _Polled:
    state: FeedState | None
    result: FeedResult
    work: list[_Work] = field(default_factory=list)
    response: Response | None = None
    listed: set[str] | None = None  # entry keys the feed lists now (a 200)
    pending: list[list[Any]] | None = None  # the state's new pending list, when it changes


@dataclass(frozen=True)
class PassLimits:
    max_entries: int
    deadline: float | None = None  # time.monotonic()

    def over(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


def watcher_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_pass(pipeline: Pipeline, store: FeedStore, fetcher: Fetcher, *, max_entries: int, workers: int = 8,
             urls: Sequence[str] | None = None, holder: str | None = None,
             progress: Callable[[FeedResult], None] | None = None, budget_s: float | None = None,
             max_feeds: int | None = None) -> PassReport:
    """Poll every watched feed (or `urls` among them) once; see the module docstring."""
    holder = holder or watcher_id()
    started = time.monotonic()
    limits = PassLimits(max_entries, None if budget_s is None else started + budget_s)
    lease_s = (budget_s or 600.0) + _LEASE_MARGIN_S
    every = store.list()
    states = every
    if urls is not None:
        wanted = {u.strip() for u in urls}
        missing = wanted - {s.url for s in states}
        if missing:
            raise FeedNotFound(f"{sorted(missing)[0]}: not a watched feed; add it with `rag feeds add`")
        states = [s for s in states if s.url in wanted]
    if max_feeds is not None:
        states = states[:max_feeds]
    owners = _owners(every)

    def poll(state: FeedState) -> _Polled:
        if limits.over():
            polled = _Polled(None, FeedResult(state.url, status="deferred", problems=[Problem(
                state.url, f"not polled: this pass used its {budget_s:g}s (RAG_FEED_PASS_BUDGET_S); "
                           "it is polled next pass", failed=False)]))
        else:
            claimed = store.claim(state.url, holder, lease_s)
            if claimed is None:
                polled = _Polled(None, FeedResult(state.url, status="skipped"))
            else:
                polled = _poll_feed(claimed, fetcher, limits)
        if progress:
            progress(polled.result)
        return polled

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(states) or 1)),
                            thread_name_prefix="rag-feed") as pool:
        polled = list(pool.map(poll, states))
    _write(pipeline, polled, owners)
    for p in polled:
        if p.state is not None:
            _save(store, p)
    return PassReport([p.result for p in polled])


def _owners(states: Iterable[FeedState]) -> dict[str, tuple[str, int]]:
    """article id -> (the feed entry that owns it, "feed\nentry key"; the rank of its claim)."""
    owners: dict[str, tuple[str, int]] = {}
    for state in states:
        for key, seen in state.seen.items():
            if seen.get("id") and not seen.get("shared"):
                rank = int(seen.get("rank", 2 if seen.get("full") else 0))
                here = (f"{state.url}\n{key}", rank)
                if seen["id"] not in owners or owners[seen["id"]][1] < rank:
                    owners[seen["id"]] = here
    return owners


def _poll_feed(state: FeedState, fetcher: Fetcher, limits: PassLimits) -> _Polled:
    result = FeedResult(state.url)
    polled = _Polled(state, result)
    try:
        response = fetcher.get(state.url, state.etag, state.last_modified, deadline=limits.deadline)
    except FetchError as exc:
        result.status = "failed"
        result.problems.append(Problem(state.url, exc.reason))
        return polled
    polled.response = response
    result.status = str(response.status)
    if response.status == 304:
        _retry_pages(state, fetcher, limits, polled)
        return polled
    try:
        feed = parse_feed(response)
    except LoadError as exc:
        result.status = "failed"
        result.problems.append(Problem(state.url, exc.reason))
        return polled
    if feed.title:
        state.title = feed.title
    if feed.warning:
        result.problems.append(Problem(state.url, feed.warning, failed=False))
    result.entries = len(feed.entries)
    polled.listed = {e.key for e in feed.entries}
    todo: list[Entry] = []
    for entry in feed.entries:
        seen = state.seen.get(entry.key)
        if seen and seen.get("fp") == entry.fingerprint and seen.get("full"):
            result.outcomes["unchanged"] += 1
        else:
            todo.append(entry)
    if len(todo) > limits.max_entries:
        result.problems.append(Problem(state.url, f"lists {len(feed.entries):,} entries, {len(todo):,} new or "
                                                  f"changed; took {limits.max_entries} this pass "
                                                  "(RAG_FEED_MAX_ENTRIES), the rest wait for the next",
                                       failed=False))
    taken = _take(todo, feed, fetcher, limits, polled)
    polled.pending = [[e.key, e.link, e.fingerprint, e.title, e.published_at, (e.text or "")[:2000] or None]
                      for e in todo[taken:]]
    return polled


def _take(todo: Sequence[Entry], feed: Feed, fetcher: Fetcher, limits: PassLimits, polled: _Polled) -> int:
    """Fetch the pages of the first entries of `todo`, within the per-pass bound and the pass's
    time; returns how many were taken. The rest are deferred."""
    taken = 0
    for entry in todo[:limits.max_entries]:
        if limits.over():
            polled.result.problems.append(Problem(feed.url, "this pass used its time budget "
                                                  "(RAG_FEED_PASS_BUDGET_S); the remaining entries wait for "
                                                  "the next", failed=False))
            break
        work = _entry_work(entry, feed, fetcher, polled.result, limits.deadline)
        if work is not None:
            polled.work.append(work)
        taken += 1
    polled.result.changed += taken
    polled.result.deferred = len(todo) - taken
    return taken


def _retry_pages(state: FeedState, fetcher: Fetcher, limits: PassLimits, polled: _Polled) -> None:
    """An unchanged feed may still have work: entries deferred by an earlier pass (`pending`), and
    entries that stand in for pages that could not be fetched. Both are taken here, within the
    per-pass bound, so the feed is neither downloaded again for them nor left with stand-ins."""
    feed = Feed(url=state.url, title=state.title, entries=[])
    if state.pending:
        entries = [Entry(key=k, link=link, title=title, published_at=date, text=text, fingerprint=fp, position=0)
                   for k, link, fp, title, date, text in state.pending]
        taken = _take(entries, feed, fetcher, limits, polled)
        polled.pending = state.pending[taken:]
        if polled.pending:
            polled.result.problems.append(Problem(state.url, f"{len(polled.pending):,} entries still wait for a "
                                                             "later pass (RAG_FEED_MAX_ENTRIES)", failed=False))
        return
    waiting = [(k, v) for k, v in state.seen.items() if not v.get("full") and v.get("link")][:limits.max_entries]
    p = fetcher.policy
    for key, seen in waiting:
        if limits.over():
            break
        entry = Entry(key=key, link=seen["link"], title=None, published_at=None, text=None,
                      fingerprint=seen.get("fp", ""), position=0)
        try:
            page = fetcher.get(seen["link"], deadline=limits.deadline)
            article = page_article(page, entry, max_chars=p.max_text_chars, timeout_s=p.extract_timeout_s)
            polled.work.append(_Work(article, state.url, entry, full=True, rank=_rank(article, page)))
        except (FetchError, LoadError) as exc:
            polled.result.problems.append(Problem(seen["link"], f"{exc.reason}; still using the feed entry's own "
                                                                "text", failed=False))
    polled.result.changed = len(polled.work)


def _entry_work(entry: Entry, feed: Feed, fetcher: Fetcher, result: FeedResult,
                deadline: float | None = None) -> _Work | None:
    label = f"{feed.url} entry {entry.position}" + (f" ({entry.title[:60]!r})" if entry.title else "")
    if not entry.link:
        result.outcomes["failed"] += 1
        result.problems.append(Problem(label, "entry has no link" + ("" if entry.text else " and no text")))
        return None
    p = fetcher.policy
    try:
        response = fetcher.get(entry.link, deadline=deadline)
        article = page_article(response, entry, max_chars=p.max_text_chars, timeout_s=p.extract_timeout_s)
        return _Work(article, feed.url, entry, full=True, rank=_rank(article, response))
    except (FetchError, LoadError) as exc:
        reason = exc.reason
    try:
        check_url(entry.link)
    except FetchError as exc:
        result.outcomes["failed"] += 1
        result.problems.append(Problem(label, exc.reason))
        return None
    if entry.text:
        result.problems.append(Problem(entry.link, f"{reason}; ingested the feed entry's own text instead "
                                                   "(the page is tried again next pass)", failed=False))
        return _Work(entry_article(entry, feed), feed.url, entry, full=False, rank=0)
    result.outcomes["failed"] += 1
    result.problems.append(Problem(entry.link, f"{reason}; the feed entry has no text of its own to use"))
    return None


def _rank(article: Article, response: Response) -> int:
    """2 when the article's id is the URL its page was served from, 1 when the page named it."""
    return 2 if article.id == canonical_url(None, response.final_url) else 1


def _write(pipeline: Pipeline, polled: list[_Polled], owners: dict[str, tuple[str, int]] | None = None) -> None:
    """All articles of the pass in one ingest; an article listed by two feeds is written once, by
    the strongest claim (see the module docstring); an id owned by another entry with an equal or
    stronger claim is left as it is."""
    owners = {} if owners is None else owners
    best: dict[str, _Work] = {}
    for p in polled:
        for w in p.work:
            if w.article.id not in best or w.rank > best[w.article.id].rank:
                best[w.article.id] = w
    unique: dict[str, Article] = {}
    for article_id, w in best.items():
        owner = owners.get(article_id)
        if owner is not None and w.source is not None and owner[0] != w.source and owner[1] >= w.rank:
            continue
        unique[article_id] = w.article
        if w.source is not None:
            owners[article_id] = (w.source, w.rank)
    for p in polled:
        for w in p.work:
            if unique.get(w.article.id) is w.article:
                continue
            w.shared = True
            owner = owners.get(w.article.id)
            if owner is not None and owner[0] != w.source and owner[0].partition("\n")[0] != w.feed:
                where = w.entry.link if w.entry and w.entry.link else w.article.id
                p.result.problems.append(Problem(where, f"its article id {w.article.id} belongs to an entry of "
                                                        f"{owner[0].partition(chr(10))[0]}; left as it is",
                                                 failed=False))
    statuses: dict[str, str] = {}
    if unique:
        report = pipeline.ingest(list(unique.values()))
        statuses = {article_id: status for article_id, status, _ in report.results}
    names = {"added": "new", "updated": "updated", "unchanged": "unchanged", "failed": "failed"}
    for p in polled:
        for w in p.work:
            outcome = "unchanged" if w.shared else names.get(statuses.get(w.article.id, "failed"), "failed")
            p.result.outcomes[outcome] += 1
            if outcome == "failed":
                p.result.problems.append(Problem(w.article.id, "could not be written to the store"))
                continue
            if w.entry is not None and p.state is not None:
                before = p.state.seen.pop(w.entry.key, {})
                old = before.get("id")
                mine = w.source
                if (old and old != w.article.id and old not in unique and not before.get("shared")
                        and owners.get(old, (mine, 0))[0] == mine):
                    pipeline.delete_article(old)  # the entry's text stood in for a page now fetched
                    owners.pop(old, None)
                p.state.seen[w.entry.key] = {"fp": w.entry.fingerprint, "id": w.article.id, "full": w.full,
                                             "rank": w.rank, **({"shared": True} if w.shared else {}),
                                             **({} if w.full or not w.entry.link else {"link": w.entry.link})}


def _save(store: FeedStore, p: _Polled) -> None:
    state = p.state
    assert state is not None
    if store.get(state.url) is None:
        return  # removed while the pass ran: saving would bring it back (row 10)
    state.last_checked = _now()
    state.last_status = p.result.status
    failures = [x for x in p.result.problems if x.failed]
    first = failures[0] if failures else None
    state.last_error = None if first is None else (
        first.reason if first.where == state.url else f"{first.where}: {first.reason}")
    if p.pending is not None:
        state.pending = p.pending
    if p.response is not None and p.response.status != 304 and not failures:
        # Validators are kept while entries wait in `pending`: the next pass gets a 304 and takes
        # them from there instead of downloading and parsing the feed again (row 4).
        state.etag = p.response.headers.get("etag")
        state.last_modified = p.response.headers.get("last-modified")
    elif failures and p.response is not None and p.response.status != 304:
        state.etag = state.last_modified = None
    _bound_seen(state, p.listed)
    state.lease_holder, state.lease_until = None, 0.0
    store.save(state)


def _bound_seen(state: FeedState, listed: set[str] | None) -> None:
    """Keep every entry the feed lists now, and the most recent `_MAX_UNLISTED_SEEN` of the others."""
    if listed is None:
        listed = set(state.seen) if len(state.seen) <= _MAX_UNLISTED_SEEN else set()
    unlisted = [k for k in state.seen if k not in listed]
    if len(unlisted) > _MAX_UNLISTED_SEEN:
        for key in unlisted[:-_MAX_UNLISTED_SEEN]:
            del state.seen[key]


# --- one-off URLs (rag ingest URL) ------------------------------------------------------------


@dataclass
class Collected:
    articles: list[Article] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def collect_urls(urls: Iterable[str], fetcher: Fetcher, max_entries: int) -> Collected:
    """Articles from URLs of pages or feeds, for `rag ingest`: no feed state is kept."""
    out = Collected()
    seen: set[str] = set()

    def keep(article: Article) -> None:
        if article.id not in seen:
            seen.add(article.id)
            out.articles.append(article)

    for url in urls:
        try:
            response = fetcher.get(url)
            if not looks_like_feed(response):
                p = fetcher.policy
                keep(page_article(response, max_chars=p.max_text_chars, timeout_s=p.extract_timeout_s))
                continue
            feed = parse_feed(response)
        except (FetchError, LoadError) as exc:
            out.errors.append(LoadError(url, exc.reason))
            continue
        result = FeedResult(url)
        if feed.warning:
            result.problems.append(Problem(url, feed.warning, failed=False))
        entries = feed.entries
        if len(entries) > max_entries:
            result.problems.append(Problem(url, f"lists {len(entries):,} entries; took the first {max_entries} "
                                                "(RAG_FEED_MAX_ENTRIES)", failed=False))
            entries = entries[:max_entries]
        for entry in entries:
            work = _entry_work(entry, feed, fetcher, result)
            if work is not None:
                keep(work.article)
        for problem in result.problems:
            if problem.failed:
                out.errors.append(LoadError(problem.where, problem.reason))
            else:
                out.notices.append(problem.line())
    return out


def fetcher_from_settings(settings: Any, transport: Any = None, robots_cache: Any = None) -> Fetcher:
    """A Fetcher of its own (tests, a custom transport); entry points use `process_fetcher`."""
    return Fetcher(Politeness.from_settings(settings), transport, robots_cache)


def process_fetcher(settings: Any, robots_cache: Any = None) -> Fetcher:
    """The process's shared Fetcher for these settings (per-host limits across every refresh)."""
    return shared_fetcher(Politeness.from_settings(settings), robots_cache)


def parse_every(value: str) -> float:
    """'15m', '30s', '1h', '1h30m' or plain seconds -> seconds."""
    import re

    text = value.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhd])", text)
        if not parts or re.sub(r"\d+(?:\.\d+)?\s*[smhd]", "", text).strip():
            raise ValueError(f"{value!r} is not a duration like 15m, 30s or 1h")
        seconds = sum(float(n) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[u] for n, u in parts)
    if seconds < 1:
        raise ValueError(f"{value!r} is shorter than a second")
    return seconds
