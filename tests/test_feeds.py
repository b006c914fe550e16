"""Feeds and URLs against a real HTTP server on loopback (tests/news_site.py). Nothing leaves the machine."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rag.config import Settings
from rag.feeds import FeedStore, collect_urls, fetcher_from_settings, parse_every, run_pass
from rag.fetch import FetchError
from rag.pipeline import Pipeline
from tests.news_site import ARTICLES, NewsSite, article_html, build_site, edit_velmora, rss

# The news site is on loopback, which the fetcher refuses by default (issue 27): allowed here, explicitly.
FAST = {"fetch_host_delay_s": 0.0, "fetch_backoff_s": 0.01, "fetch_retries": 1, "fetch_timeout_s": 2.0,
        "fetch_allow_private": True}


@pytest.fixture
def site():  # type: ignore[no-untyped-def]
    s = NewsSite().start()
    yield s
    s.stop()


def _settings(tmp_path: Path, **overrides) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(data_dir=tmp_path / "store", **{**FAST, **overrides})


def _pass(pipeline: Pipeline, **kw):  # type: ignore[no-untyped-def]
    s = pipeline.settings
    store = FeedStore.for_pipeline(pipeline)
    with fetcher_from_settings(s, robots_cache=store) as fetcher:
        return run_pass(pipeline, store, fetcher, max_entries=s.feed_max_entries, workers=s.fetch_workers, **kw)


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed.xml"  # nothing listens there once the socket is closed


# --- the judged scenario, as a user runs it ----------------------------------------------------


def rag(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"RAG_DATA_DIR": str(tmp_path / "store"), "NO_COLOR": "1", "RAG_FETCH_HOST_DELAY_S": "0",
                "RAG_FETCH_BACKOFF_S": "0.01", "RAG_FETCH_RETRIES": "1", "RAG_FETCH_TIMEOUT_S": "2",
                "RAG_FETCH_ALLOW_PRIVATE": "true"})
    return subprocess.run([sys.executable, "-m", "rag", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_watch_once_ingests_rss_and_atom_then_304s_then_an_edit(tmp_path, site):
    urls = build_site(site)
    added = rag(tmp_path, "feeds", "add", urls["rss"], urls["atom"])
    assert added.returncode == 0, added.stderr
    first = rag(tmp_path, "watch", "--once")
    assert first.returncode == 0, first.stderr
    assert "4 new, 0 updated, 0 unchanged, 0 failed" in first.stdout
    # Both feeds' articles answer with verbatim quotes from their pages.
    for question, words in [("How many turbines will the Velmora tidal plant have?", "six turbines"),
                            ("How many apprentices will the Tarnberg glassworks hire?", "120 apprentices")]:
        asked = rag(tmp_path, "ask", question, "--json", "--mode", "extractive")
        answer = json.loads(asked.stdout)
        assert not answer["refused"], asked.stdout
        assert any(words in c["quote"] for c in answer["citations"]), answer["citations"]
    ids = {c["article_id"] for c in answer["citations"]}
    assert f"{site.base}/news/tarnberg-glass" in ids  # the canonical URL is the id

    before = len(site.requests())
    second = rag(tmp_path, "watch", "--once")
    assert second.returncode == 0, second.stderr
    assert "2 feeds (2 not modified): 0 new, 0 updated, 0 unchanged, 0 failed" in second.stdout
    later = site.requests()[before:]
    assert [h.status for h in later] == [304, 304], [(h.path, h.status) for h in later]

    edit_velmora(site)
    third = rag(tmp_path, "watch", "--once")
    assert third.returncode == 0, third.stderr
    assert "0 new, 1 updated" in third.stdout
    pipeline = Pipeline(Settings(data_dir=tmp_path / "store"))
    chunks = pipeline.store.article_chunks(f"{site.base}/news/velmora-tidal")
    text = " ".join(c.text for c in chunks)
    assert "eight turbines" in text and "six turbines" not in text
    assert len({c.index for c in chunks}) == len(chunks) == pipeline.store.article_infos(
        [f"{site.base}/news/velmora-tidal"])[f"{site.base}/news/velmora-tidal"].n_chunks


def test_every_fault_is_one_line_naming_the_feed_and_the_others_are_still_ingested(tmp_path, site):
    urls = build_site(site)
    base = site.base
    site.set("/missing-page-feed.xml", "gone", "text/plain", status=404)
    site.set("/broken.xml", "oops", "text/plain", status=500)
    site.set("/loop-a.xml", "", status=302, location=f"{base}/loop-b.xml")
    site.set("/loop-b.xml", "", status=302, location=f"{base}/loop-a.xml")
    site.set("/huge.xml", b"<rss>" + b" " * 300_000 + b"</rss>", "application/rss+xml")
    site.set("/not-xml.xml", "Feeds are down for maintenance {\"retry\": true}", "text/plain")
    site.set("/homepage.xml", "<!DOCTYPE html><html><body><p>Welcome</p></body></html>", "text/html")
    site.set("/slow.xml", site.routes["/news/rss.xml"].body, "application/rss+xml", delay_s=4.0)
    faults = {
        "dead": (_dead_url(), "cannot connect"),
        "404": (f"{base}/missing-page-feed.xml", "HTTP 404"),
        "500": (f"{base}/broken.xml", "HTTP 500"),
        "loop": (f"{base}/loop-a.xml", "redirect loop"),
        "huge": (f"{base}/huge.xml", "over the limit"),
        "not xml": (f"{base}/not-xml.xml", "not an RSS or Atom feed"),
        "html": (f"{base}/homepage.xml", "not an RSS or Atom feed (an HTML page"),
        "slow": (f"{base}/slow.xml", "timed out"),
    }
    assert rag(tmp_path, "feeds", "add", urls["rss"], *(u for u, _ in faults.values()), urls["atom"]).returncode == 0
    env_limit = {"RAG_FETCH_MAX_BYTES": "200000"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"RAG_DATA_DIR": str(tmp_path / "store"), "NO_COLOR": "1", "RAG_FETCH_HOST_DELAY_S": "0",
                "RAG_FETCH_BACKOFF_S": "0.01", "RAG_FETCH_RETRIES": "1", "RAG_FETCH_TIMEOUT_S": "1",
                "RAG_FETCH_ALLOW_PRIVATE": "true", **env_limit})
    run = subprocess.run([sys.executable, "-m", "rag", "watch", "--once"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 1, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    for name, (url, reason) in faults.items():
        mine = [line for line in errors if line.startswith(f"error: {url}: ")]
        assert len(mine) == 1, (name, errors)
        assert reason in mine[0], (name, mine[0])
    assert len(errors) == len(faults), errors
    assert f"4 new, 0 updated, 0 unchanged, {len(faults)} failed" in run.stdout
    listed = json.loads(rag(tmp_path, "feeds", "list", "--json").stdout)
    by_url = {f["url"]: f for f in listed}
    assert "redirect loop" in by_url[faults["loop"][0]]["last_error"]
    assert by_url[urls["rss"]]["last_error"] is None and by_url[urls["rss"]]["entries_seen"] == 2


def test_ingest_takes_urls_beside_paths_and_names_the_bad_ones(tmp_path, site):
    urls = build_site(site)
    run = rag(tmp_path, "ingest", f"{site.base}/news/dunmere-rail", urls["atom"], f"{site.base}/nowhere",
              "no-such-file.txt")
    assert run.returncode == 1
    assert "2 added, 0 updated, 0 unchanged, 2 failed" in run.stdout  # dunmere-rail, also in the feed, once
    assert f"error: {site.base}/nowhere: HTTP 404 Not Found" in run.stderr
    assert "error: no-such-file.txt: no such file or folder" in run.stderr
    removed = rag(tmp_path, "feeds", "remove", urls["rss"])
    assert removed.returncode == 1 and "not a watched feed" in removed.stderr
    bad = rag(tmp_path, "feeds", "add", "ftp://example.org/feed")
    assert bad.returncode == 1 and "not an http(s) URL" in bad.stderr


# --- faults inside a feed, in-process ------------------------------------------------------------


@pytest.fixture
def make_pipeline(tmp_path, embedder):  # type: ignore[no-untyped-def]
    def make(**overrides) -> Pipeline:  # type: ignore[no-untyped-def]
        return Pipeline(_settings(tmp_path, **overrides), embedder=embedder)
    return make


def test_entry_faults_each_name_their_url_and_the_good_entries_are_kept(site, make_pipeline):
    build_site(site)
    base = site.base
    site.set("/files/report.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3 binary", "application/pdf")
    latin1 = article_html(base, "orsk-library").replace("flood", "flöod").encode("latin-1")
    site.set("/news/wrong-charset", latin1, "text/html; charset=utf-8")
    site.set("/private/members-only", article_html(base, "dunmere-rail"))
    site.routes["/news/tarnberg-glass"].delay_s = 0.5  # slow, but within the timeout
    items = [
        {"title": "Council minutes", "guid": "no-link-1", "date": "2026-03-01"},  # no link, no text
        {"title": "Annual report", "link": f"{base}/files/report.pdf", "guid": "pdf"},
        {"title": "Library reopens", "link": f"{base}/news/wrong-charset", "guid": "charset"},
        {"title": "Gone story", "link": f"{base}/news/deleted-story", "guid": "gone",
         "description": "<p>The harbour master of Velmora resigned on Monday after nine years in the post.</p>"},
        {"title": "Members only", "link": f"{base}/private/members-only", "guid": "private"},
        {"title": ARTICLES["tarnberg-glass"]["title"], "link": f"{base}/news/tarnberg-glass", "guid": "good"},
    ]
    site.set("/faults.xml", rss(base, items), "application/rss+xml")
    pipeline = make_pipeline()
    FeedStore.for_pipeline(pipeline).add(f"{base}/faults.xml")
    report = _pass(pipeline)
    lines = [p.line() for p in report.problems]
    assert any("no-link" not in line and "entry 1 ('Council minutes')" in line and "has no link" in line
               for line in lines), lines
    assert any(line.startswith(f"error: {base}/files/report.pdf: not an HTML page (content type application/pdf)")
               for line in lines), lines
    assert any(line.startswith(f"error: {base}/news/wrong-charset: declares charset utf-8 but byte")
               for line in lines), lines
    assert any(line.startswith(f"error: {base}/private/members-only: robots.txt") for line in lines), lines
    # A page that cannot be fetched falls back to the entry's own text: a warning, not a loss.
    assert any(line.startswith(f"warning: {base}/news/deleted-story: HTTP 404 Not Found; ingested the feed entry")
               for line in lines), lines
    assert report.total("new") == 2 and report.failed == 4
    assert not [h for h in site.requests() if h.path.startswith("/private/")], "robots.txt was not obeyed"
    assert pipeline.store.get_article(f"{base}/news/deleted-story") is not None
    # Failed entries are retried: the feed's validators are not kept, so the next pass reads it again.
    again = _pass(pipeline)
    assert [f.status for f in again.feeds] == ["200"] and again.total("unchanged") == 2


def test_an_entry_that_stood_in_for_its_page_is_replaced_once_the_page_answers(site, make_pipeline):
    base = site.base
    items = [{"title": ARTICLES["dunmere-rail"]["title"], "link": f"{base}/news/dunmere-rail", "guid": "late",
              "description": "<p>The Dunmere rail link is late.</p><p>It opens in 2028.</p>"}]
    site.set("/late.xml", rss(base, items), "application/rss+xml")
    pipeline = make_pipeline()
    FeedStore.for_pipeline(pipeline).add(f"{base}/late.xml")
    first = _pass(pipeline)  # the page is not there yet: the entry's own text is ingested
    assert first.total("new") == 1 and first.failed == 0
    assert [p.line() for p in first.problems] == [
        f"warning: {base}/news/dunmere-rail: HTTP 404 Not Found; ingested the feed entry's own text instead "
        "(the page is tried again next pass)"]
    article = f"{base}/news/dunmere-rail"
    assert pipeline.store.get_article(article)[1] == "The Dunmere rail link is late.\n\nIt opens in 2028."
    site.set("/news/dunmere-rail", article_html(base, "dunmere-rail"))
    second = _pass(pipeline)  # the feed is unchanged (304), but the page is tried again
    assert second.feeds[0].status == "304" and second.total("updated") == 1 and not second.problems
    assert "unstable clay" in pipeline.store.get_article(article)[1]
    third = _pass(pipeline)
    assert third.feeds[0].status == "304" and third.feeds[0].changed == 0
    assert len(site.requests("/news/dunmere-rail")) == 2


def test_a_feed_of_ten_thousand_entries_is_taken_a_bounded_slice_per_pass(site, make_pipeline):
    base = site.base
    site.generated["/fire/"] = lambda path: article_html(base, "orsk-library", canonical=f"{base}{path}",
                                                         paragraphs=[p + f" Bulletin {path[6:]}." for p in
                                                                     ARTICLES["orsk-library"]["paragraphs"]])
    items = [{"title": f"Bulletin {i}", "link": f"{base}/fire/{i}", "guid": f"b{i}", "date": "2026-03-01"}
             for i in range(10_000)]
    site.set("/firehose.xml", rss(base, items), "application/rss+xml")
    pipeline = make_pipeline(feed_max_entries=3)
    FeedStore.for_pipeline(pipeline).add(f"{base}/firehose.xml")
    first = _pass(pipeline)
    assert first.total("new") == 3 and first.failed == 0
    assert any("lists 10,000 entries" in p.line() and "RAG_FEED_MAX_ENTRIES" in p.line() for p in first.problems)
    # The validators are kept while the rest waits in the state (issue 27, row 4): a 304, and the
    # next entries come from the saved list, not from downloading and parsing the feed again.
    second = _pass(pipeline)
    assert second.feeds[0].status == "304" and second.total("new") == 3, second.as_dict()
    assert len([h for h in site.requests() if h.path.startswith("/fire/")]) == 6


def test_retries_back_off_then_succeed_and_the_user_agent_is_sent(site, make_pipeline):
    urls = build_site(site)
    site.routes["/news/rss.xml"].fail_first = 1  # one 503 with Retry-After: 0, then the feed
    pipeline = make_pipeline(fetch_retries=2)
    FeedStore.for_pipeline(pipeline).add(urls["rss"])
    report = _pass(pipeline)
    assert report.failed == 0 and report.total("new") == 2
    feed_hits = site.requests("/news/rss.xml")
    assert [h.status for h in feed_hits] == [503, 200]
    assert all(h.headers["User-Agent"].startswith("rag-news/") for h in site.requests())


def test_per_host_delay_spaces_requests_to_one_host(site, make_pipeline):
    import time

    import httpx

    class Recording(httpx.HTTPTransport):  # when each request leaves the client, after any pause
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            sent.append((time.monotonic(), request.url.path))
            return super().handle_request(request)

    sent: list[tuple[float, str]] = []
    urls = build_site(site)
    pipeline = make_pipeline(fetch_host_delay_s=0.3)
    store = FeedStore.for_pipeline(pipeline)
    store.add(urls["atom"])
    with fetcher_from_settings(pipeline.settings, transport=Recording()) as fetcher:
        run_pass(pipeline, store, fetcher, max_entries=10)
    assert [p for _, p in sent] == ["/robots.txt", "/business/atom.xml", "/news/tarnberg-glass",
                                    "/news/dunmere-rail"]
    gaps = [b - a for (a, _), (b, _) in zip(sent, sent[1:], strict=False)]
    assert min(gaps) >= 0.29, gaps


def test_two_watchers_on_one_store_do_not_both_ingest(site, backend, embedder):
    """Embedded, and two watchers against one `chroma run` server (the state lives in the store)."""
    urls = build_site(site)
    settings = backend.model_copy(update={**FAST, "fetch_host_delay_s": 0.05})
    one, two = Pipeline(settings, embedder=embedder), Pipeline(settings, embedder=embedder)
    FeedStore.for_pipeline(one).add(urls["rss"])
    FeedStore.for_pipeline(one).add(urls["atom"])
    reports = []
    threads = [threading.Thread(target=lambda p=p: reports.append(_pass(p))) for p in (one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.total("new") for r in reports) == 4
    assert sorted(f.status for r in reports for f in r.feeds).count("skipped") == 2
    page_hits = [h for h in site.requests() if h.path.startswith("/news/") and not h.path.endswith(".xml")]
    assert len(page_hits) == 4, [h.path for h in page_hits]
    # and the next pass of either one finds the leases released and both feeds unchanged
    assert [f.status for f in _pass(two).feeds] == ["304", "304"]


def test_a_feed_in_the_wrong_charset_is_read_with_a_warning(site, tmp_path):
    base = site.base
    build_site(site)
    body = rss(base, [{"title": "Caf\u00e9 Tarnberg", "link": f"{base}/news/tarnberg-glass", "guid": "c1",
                       "description": "Un caf\u00e9 \u00e0 Tarnberg."}]).encode("latin-1")
    site.set("/latin1.xml", body, "application/rss+xml; charset=utf-8")
    with fetcher_from_settings(_settings(tmp_path)) as fetcher:
        got = collect_urls([f"{base}/latin1.xml"], fetcher, 100)
    assert [a.id for a in got.articles] == [f"{base}/news/tarnberg-glass"] and not got.errors
    assert got.notices == [f"warning: {base}/latin1.xml: feed is not clean XML, read leniently "
                           "(document declared as utf-8, but parsed as windows-1252)"]


def test_state_survives_a_restart_and_validators_are_sent(site, make_pipeline):
    urls = build_site(site)
    FeedStore.for_pipeline(make_pipeline()).add(urls["rss"])
    _pass(make_pipeline())
    state = FeedStore.for_pipeline(make_pipeline()).get(urls["rss"])
    assert state and state.etag and state.last_modified and len(state.seen) == 2
    _pass(make_pipeline())
    last = site.requests("/news/rss.xml")[-1]
    assert last.status == 304 and last.headers["If-None-Match"] == state.etag


def test_ingest_urls_of_a_page_and_a_feed_without_state(site, tmp_path):
    urls = build_site(site)
    with fetcher_from_settings(_settings(tmp_path)) as fetcher:
        got = collect_urls([f"{site.base}/news/dunmere-rail", urls["atom"], f"{site.base}/nowhere"], fetcher, 100)
    ids = [a.id for a in got.articles]
    assert ids == [f"{site.base}/news/dunmere-rail", f"{site.base}/news/tarnberg-glass"]
    rail = got.articles[0]
    assert rail.source == "Northern Coast Gazette" and rail.published_at == "2026-03-06"
    assert rail.title == ARTICLES["dunmere-rail"]["title"] and "unstable clay" in rail.text
    assert "All rights reserved" not in rail.text
    assert [str(e) for e in got.errors] == [f"{site.base}/nowhere: HTTP 404 Not Found"]


def test_rss_redirected_link_gets_the_canonical_id(site, tmp_path):
    urls = build_site(site)
    with fetcher_from_settings(_settings(tmp_path)) as fetcher:
        got = collect_urls([urls["rss"]], fetcher, 100)
    assert f"{site.base}/news/velmora-tidal" in [a.id for a in got.articles]


def test_a_body_dripped_a_byte_at_a_time_meets_a_deadline(site, tmp_path):
    site.set("/drip.xml", "<rss>" + "x" * 200 + "</rss>", "application/rss+xml", drip_s=0.05)
    with fetcher_from_settings(_settings(tmp_path, fetch_timeout_s=0.5)) as fetcher:
        with pytest.raises(FetchError, match=r"body still arriving after 2s"):
            fetcher.get(f"{site.base}/drip.xml")


def test_bad_urls_and_durations_are_refused_with_a_reason(tmp_path):
    with fetcher_from_settings(_settings(tmp_path)) as fetcher:
        with pytest.raises(FetchError, match="not an http"):
            fetcher.get("ftp://example.org/feed")
    assert parse_every("15m") == 900 and parse_every("1h30m") == 5400 and parse_every("45") == 45
    for bad in ("soon", "0s", "15x"):
        with pytest.raises(ValueError):
            parse_every(bad)


def test_api_feeds_list_add_remove_refresh(site, tmp_path, embedder):
    from fastapi.testclient import TestClient

    from rag_api.main import create_app

    urls = build_site(site)
    client = TestClient(create_app(Pipeline(_settings(tmp_path), embedder=embedder)))
    assert client.post("/v1/feeds", json={"url": urls["atom"]}).status_code == 201
    assert client.post("/v1/feeds", json={"url": urls["atom"]}).status_code == 200
    bad = client.post("/v1/feeds", json={"url": "file:///etc/passwd"})
    assert bad.status_code == 422 and "not an http(s) URL" in bad.json()["detail"]
    assert client.post("/v1/feeds", json={}).status_code == 422
    refreshed = client.post("/v1/feeds/refresh")
    assert refreshed.status_code == 202, refreshed.text
    job = wait_job(client, refreshed.json()["id"])
    assert job["state"] == "finished" and job["report"]["counts"]["new"] == 2, job
    unknown = client.post("/v1/feeds/refresh", json={"urls": ["http://127.0.0.1:9/x.xml"]})
    assert unknown.status_code == 404 and "not a watched feed" in unknown.json()["detail"]
    listed = client.get("/v1/feeds").json()["feeds"]
    assert [f["url"] for f in listed] == [urls["atom"]] and listed[0]["entries_seen"] == 2
    assert client.delete(f"/v1/feeds/{urls['atom']}").status_code == 200
    missing = client.delete(f"/v1/feeds/{urls['atom']}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 404


def wait_job(client, job_id: str, timeout_s: float = 120.0) -> dict:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        job = client.get(f"/v1/feeds/jobs/{job_id}").json()
        if job["state"] != "running" or time.monotonic() > deadline:
            return job  # type: ignore[no-any-return]
        time.sleep(0.1)


def test_a_field_cleared_in_the_state_is_cleared_in_the_store(pipeline):
    """A recovered feed's error, validators dropped after a failure and a released lease must not
    come back: Chroma merges an upsert's metadata into the old one."""
    feeds = FeedStore.for_pipeline(pipeline)
    state, _ = feeds.add("https://news.example.org/feed.xml")
    state.etag, state.last_error, state.lease_holder = '"v1"', "HTTP 500", "watcher-1"
    feeds.save(state)
    held = feeds.get(state.url)
    assert held is not None and (held.etag, held.last_error, held.lease_holder) == ('"v1"', "HTTP 500", "watcher-1")
    state.etag = state.last_error = state.lease_holder = None
    feeds.save(state)
    held = feeds.get(state.url)
    assert held is not None and (held.etag, held.last_error, held.lease_holder) == (None, None, None)
