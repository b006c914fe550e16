"""Fetching safely (issue 27): the address policy, identity a page cannot steal, refresh as a job and
bounded work per fetch. Every case is built on loopback with real HTTP servers (tests/news_site.py);
the "internal" servers are loopback ports the policy must refuse, so nothing leaves the machine."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

import rag.addresses
from rag.config import Settings
from rag.feeds import FeedState, FeedStore, _bound_seen, fetcher_from_settings, process_fetcher, run_pass
from rag.fetch import FetchError
from rag.pipeline import Pipeline
from rag.web import page_article
from rag_api.main import create_app
from tests.conftest import serving
from tests.news_site import ARTICLES, NewsSite, article_html, build_site, rss

FAST = {"fetch_host_delay_s": 0.0, "fetch_backoff_s": 0.01, "fetch_retries": 1, "fetch_timeout_s": 2.0}
KEY = {"Authorization": "Bearer k"}
SECRET = "vault code is 7741"


@pytest.fixture
def internal():  # type: ignore[no-untyped-def]
    """The "internal" server: loopback, so refused with the default settings."""
    s = NewsSite().start()
    s.set("/vault", f"<html><head><title>Ops</title></head><body><article><h1>Ops notes</h1><p>The {SECRET}, "
                    "and it changes on Mondays. Nobody outside operations may read this page.</p>"
                    "<p>The backup vault code is kept in the safe on the second floor.</p></article></body></html>")
    s.set("/feed.xml", rss(s.base, [{"title": "Ops notes", "link": f"{s.base}/vault", "guid": "ops-1",
                                     "description": f"The {SECRET}."}]), "application/rss+xml")
    yield s
    s.stop()


@pytest.fixture
def site():  # type: ignore[no-untyped-def]
    s = NewsSite().start()
    yield s
    s.stop()


def _settings(tmp_path: Path, **overrides) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(data_dir=tmp_path / "store", **{**FAST, **overrides})


def _pass(pipeline: Pipeline, fetcher=None, **kw):  # type: ignore[no-untyped-def]
    s = pipeline.settings
    store = FeedStore.for_pipeline(pipeline)
    fetcher = fetcher or fetcher_from_settings(s, robots_cache=store)
    return run_pass(pipeline, store, fetcher, max_entries=s.feed_max_entries, workers=s.fetch_workers, **kw)


def _wait_job(client, job_id: str, timeout_s: float = 120.0) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while True:
        job = client.get(f"/v1/feeds/jobs/{job_id}", headers=KEY).json()
        if job["state"] != "running" or time.monotonic() > deadline:
            return job  # type: ignore[no-any-return]
        time.sleep(0.1)


def _rag(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    full.update({"RAG_DATA_DIR": str(tmp_path / "store"), "NO_COLOR": "1", "RAG_FETCH_HOST_DELAY_S": "0",
                 "RAG_FETCH_BACKOFF_S": "0.01", "RAG_FETCH_RETRIES": "1", "RAG_FETCH_TIMEOUT_S": "2", **env})
    return subprocess.run([sys.executable, "-m", "rag", *args], env=full, capture_output=True, text=True,
                          timeout=300)


# --- 1. the address policy: the done-when test ---------------------------------------------------


def test_the_internal_server_scenario_stores_and_leaks_nothing_with_default_settings(tmp_path, internal, site,
                                                                                     embedder):
    """POST /v1/feeds + refresh + search, as an API caller with a key would try it; every spelling of
    loopback, a name that resolves to it, a redirect from an allowed host to it, and other schemes."""
    p = internal.port
    # The allowed test host: `localhost:<site port>` is named in RAG_FETCH_ALLOW_HOSTS; the internal
    # server is another loopback port, which stays refused.
    public = f"http://localhost:{site.port}"
    site.set("/go/vault", "", status=302, location=f"http://127.0.0.1:{p}/vault")
    site.set("/go/mapped", "", status=302, location=f"http://[::ffff:127.0.0.1]:{p}/vault")
    site.set("/news/tarnberg-glass", article_html(public, "tarnberg-glass"))
    site.set("/feed.xml", rss(public, [
        {"title": "Redirected", "link": f"{public}/go/vault", "guid": "r1"},
        {"title": "Mapped", "link": f"{public}/go/mapped", "guid": "r2"},
        {"title": ARTICLES["tarnberg-glass"]["title"], "link": f"{public}/news/tarnberg-glass", "guid": "ok"}]),
        "application/rss+xml")
    settings = _settings(tmp_path, api_keys="k", api_feed_keys="k", fetch_allow_hosts=f"localhost:{site.port}")
    assert settings.fetch_allow_private is False  # the default
    pipeline = Pipeline(settings, embedder=embedder)
    client = TestClient(create_app(pipeline))

    refused = {
        f"http://127.0.0.1:{p}/feed.xml": "is a loopback address",
        f"http://localhost:{p}/feed.xml": "localhost (127.0.0.1) is a loopback address",
        f"http://[::ffff:127.0.0.1]:{p}/feed.xml": "is a loopback address",
        f"http://2130706433:{p}/feed.xml": "2130706433 (127.0.0.1) is a loopback address",
        f"http://0x7f.1:{p}/feed.xml": "(127.0.0.1) is a loopback address",
        f"http://127.1:{p}/feed.xml": "(127.0.0.1) is a loopback address",
        "http://169.254.169.254/latest/meta-data/": "is a link-local address",
        "http://0.0.0.0/feed.xml": "is an unspecified address",
        "file:///etc/passwd": "not an http(s) URL",
        f"gopher://127.0.0.1:{p}/_GET%20/vault": "not an http(s) URL",
    }
    for url, reason in refused.items():
        answer = client.post("/v1/feeds", json={"url": url}, headers=KEY)
        assert answer.status_code == 422, (url, answer.text)
        detail = answer.json()["detail"]
        assert detail.startswith(f"url: {url}: ") and reason in detail, (url, detail)
        assert "\n" not in detail
    assert client.post("/v1/feeds", json={"url": f"{public}/feed.xml"}, headers=KEY).status_code == 201
    # A feed stored before the policy existed (or written by hand) is refused at fetch time.
    store = FeedStore.for_pipeline(pipeline)
    store.save(FeedState(url=f"http://127.0.0.1:{p}/feed.xml", added_at="2026-01-01T00:00:00+00:00"))
    store.save(FeedState(url=f"http://2130706433:{p}/feed.xml", added_at="2026-01-01T00:00:01+00:00"))

    started = client.post("/v1/feeds/refresh", headers=KEY)
    assert started.status_code == 202, started.text
    job = _wait_job(client, started.json()["id"])
    assert job["state"] == "finished", job
    problems = {(pr["where"], pr["reason"]) for pr in job["report"]["problems"]}
    assert any(w == f"http://127.0.0.1:{p}/feed.xml" and "refused: 127.0.0.1 is a loopback address" in r
               for w, r in problems), problems
    assert any(w == f"http://2130706433:{p}/feed.xml" and "refused" in r for w, r in problems), problems
    assert any(w == f"{public}/go/vault" and "refused: 127.0.0.1 is a loopback address" in r
               and f"(redirected to http://127.0.0.1:{p}/vault)" in r for w, r in problems), problems
    assert any(w == f"{public}/go/mapped" and "refused" in r for w, r in problems), problems
    assert job["report"]["counts"]["new"] == 1  # the allowed host's own article

    assert internal.requests() == [], [h.path for h in internal.requests()]  # not one connection
    ids = [a["id"] for a in client.get("/v1/articles", headers=KEY).json()["articles"]]
    assert ids == [f"{public}/news/tarnberg-glass"]
    for q in ("vault code", "ops notes operations"):
        found = client.get("/v1/search", params={"q": q}, headers=KEY)
        results = json.dumps(found.json()["results"])
        assert found.status_code == 200 and "7741" not in results and "vault" not in results.lower()
    asked = client.post("/v1/ask", json={"question": "What is the vault code?"}, headers=KEY)
    assert asked.status_code == 200 and "7741" not in asked.text
    # `rag ingest URL` and `rag feeds add` refuse it the same way, and --allow-private is explicit.
    run = _rag(tmp_path / "cli", "ingest", f"http://localhost:{p}/vault", f"http://[::ffff:127.0.0.1]:{p}/vault")
    assert run.returncode == 1 and run.stderr.count("refused:") == 2, run.stderr
    assert internal.requests() == []
    allowed = _rag(tmp_path / "cli", "ingest", "--allow-private", f"http://127.0.0.1:{p}/vault")
    assert allowed.returncode == 0 and "1 added" in allowed.stdout, allowed.stderr


def test_the_connection_goes_to_the_vetted_address_so_rebinding_cannot_swap_it(site, tmp_path, monkeypatch):
    """The name is resolved at the check and again at connect: a resolver that answers a public
    address first and loopback next (DNS rebinding) is refused at connect, and the socket is
    opened to the address that was checked, not to a second lookup of the name."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def resolver(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host not in ("rebind.test", "intranet.test"):
            return real(host, port, *args, **kwargs)
        address = "93.184.216.34" if host == "rebind.test" and not answers else "127.0.0.1"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(rag.addresses.socket, "getaddrinfo", resolver)
    site.set("/page", article_html(site.base, "orsk-library"))
    with fetcher_from_settings(_settings(tmp_path)) as fetcher:
        with pytest.raises(FetchError, match=r"refused: rebind\.test \(127\.0\.0\.1\) is a loopback address"):
            fetcher._request(f"http://rebind.test:{site.port}/page", f"http://rebind.test:{site.port}/page", {})
    assert answers == ["93.184.216.34", "127.0.0.1"] and site.requests() == []
    # A name listed in RAG_FETCH_ALLOW_HOSTS is fetched from the address it resolved to (the OS
    # resolver does not know intranet.test: only the vetted address can have been used).
    with fetcher_from_settings(_settings(tmp_path, fetch_allow_hosts="intranet.test")) as fetcher:
        got = fetcher.get(f"http://intranet.test:{site.port}/page")
    assert got.status == 200 and b"Orsk-on-Lake" in got.body


def test_a_robots_txt_redirect_to_an_internal_address_is_refused_too(tmp_path, site, internal):
    site.robots_location = f"{internal.base}/vault"
    site.set("/news/page", article_html(site.base, "orsk-library"))
    settings = _settings(tmp_path, fetch_allow_hosts=f"localhost:{site.port}")
    with fetcher_from_settings(settings) as fetcher:
        with pytest.raises(FetchError, match=r"robots\.txt redirected to .*refused: 127\.0\.0\.1 is a loopback"):
            fetcher.get(f"http://localhost:{site.port}/news/page")
    assert internal.requests() == [] and [h.path for h in site.requests()] == ["/robots.txt"]


def _tls_site(tmp_path: Path):  # type: ignore[no-untyped-def]
    """An HTTPS server on 127.0.0.1 whose certificate (from a throwaway CA) names only `localhost`."""
    import http.server
    import ssl

    d = tmp_path / "tls"
    d.mkdir()
    run = lambda *a: subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=rag-news test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "site.key", "-out", "site.csr", "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text("subjectAltName=DNS:localhost\n")
    run("x509", "-req", "-in", "site.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
        "site.pem", "-days", "2", "-extfile", "ext.cnf")

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            body = b"User-agent: *\n" if self.path == "/robots.txt" else b"hello over TLS"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(d / "site.pem", d / "site.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, d / "ca.pem"


def test_tls_is_verified_against_the_url_host_while_connecting_to_the_vetted_address(tmp_path):
    """The socket goes to the checked address (127.0.0.1), yet the certificate is checked against
    the URL's host name (SNI `localhost`): trusted and matching works, an untrusted CA or a name
    the certificate does not carry is refused."""
    import ssl

    import httpx

    from rag.addresses import guarded_transport
    from rag.fetch import Fetcher, Politeness

    server, ca = _tls_site(tmp_path)
    port = server.server_address[1]
    try:
        policy = Politeness.from_settings(_settings(tmp_path, fetch_allow_private=True))
        with Fetcher(policy) as fetcher:  # the default trust store does not know the test CA
            with pytest.raises(FetchError, match="TLS certificate of https://localhost:.* could not be verified"):
                fetcher.get(f"https://localhost:{port}/page")
        trusted = guarded_transport(policy.addresses, httpx.Limits(max_connections=4),
                                    verify=ssl.create_default_context(cafile=str(ca)))
        with Fetcher(policy, transport=trusted) as fetcher:
            assert fetcher.get(f"https://localhost:{port}/page").body == b"hello over TLS"
            with pytest.raises(FetchError, match="could not be verified"):  # the IP is not in the certificate
                fetcher.get(f"https://127.0.0.1:{port}/page")
        strict = guarded_transport(rag.addresses.AddressPolicy(), httpx.Limits(max_connections=4),
                                   verify=ssl.create_default_context(cafile=str(ca)))
        with Fetcher(policy, transport=strict) as fetcher:  # the policy lives in the transport too
            with pytest.raises(FetchError, match="refused: localhost"):
                fetcher._request(f"https://localhost:{port}/page", f"https://localhost:{port}/page", {})
    finally:
        server.shutdown()
        server.server_close()


# --- 2. errors that do not map ports and services (row 2) ---------------------------------------


def test_refused_and_unreachable_targets_get_uniform_errors(tmp_path, internal):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    internal.set("/page.html", "<html><body><p>Welcome</p></body></html>")
    targets = [f"http://127.0.0.1:{closed}/feed.xml", f"{internal.base}/missing.xml", f"{internal.base}/page.html"]
    reasons = set()
    with fetcher_from_settings(_settings(tmp_path)) as fetcher:
        for url in targets:
            with pytest.raises(FetchError) as err:
                fetcher.get(url)
            reasons.add(err.value.reason)
    assert len(reasons) == 1 and next(iter(reasons)).startswith("refused: 127.0.0.1 is a loopback address"), reasons
    assert internal.requests() == []
    # Allowed targets: a closed port and a name that does not resolve read alike (no errno text).
    with fetcher_from_settings(_settings(tmp_path, fetch_allow_private=True)) as fetcher:
        seen = []
        for url in (f"http://127.0.0.1:{closed}/feed.xml", "http://no-such-host.invalid/feed.xml"):
            with pytest.raises(FetchError) as err:
                fetcher.get(url)
            seen.append(err.value.reason)
    assert seen[0].startswith(f"cannot connect to http://127.0.0.1:{closed}"), seen
    assert seen[1].startswith("cannot connect to http://no-such-host.invalid"), seen
    assert not any("refused" in r.lower() or "errno" in r.lower() or "name" in r.lower() for r in seen), seen


# --- 3. identity a page cannot steal (row 3) -----------------------------------------------------


def test_a_canonical_link_to_another_site_or_another_entrys_article_steals_nothing(tmp_path, embedder):
    victim, evil = NewsSite().start(), NewsSite().start()
    try:
        urls = build_site(victim)
        victim_id = f"{victim.base}/news/velmora-tidal"
        hijack = ["The Velmora council voted to sell the ferry basin to a casino developer, the mayor said.",
                  "There will be no tidal plant. The turbines were cancelled on Tuesday night."]

        def evil_page(canonical: str) -> None:
            evil.set("/story", article_html(evil.base, "velmora-tidal", hijack, canonical=canonical))

        evil_page(victim_id)  # another site's article URL
        evil.set("/feed.xml", rss(evil.base, [{"title": "Velmora", "link": f"{evil.base}/story", "guid": "e1"}]),
                 "application/rss+xml")
        # the same origin as the victim: a second feed whose page claims the victim's article
        victim.set("/blog/post", article_html(victim.base, "velmora-tidal", hijack, canonical=victim_id))
        victim.set("/blog.xml", rss(victim.base, [{"title": "Blog", "link": f"{victim.base}/blog/post",
                                                   "guid": "b1"}]), "application/rss+xml")
        pipeline = Pipeline(_settings(tmp_path, fetch_allow_private=True), embedder=embedder)
        store = FeedStore.for_pipeline(pipeline)
        for url in (urls["rss"], f"{evil.base}/feed.xml", f"{victim.base}/blog.xml"):
            store.add(url)

        def victim_text() -> str:
            got = pipeline.store.get_article(victim_id)
            assert got is not None, "the victim's article was lost"
            return got[1]

        first = _pass(pipeline)
        assert "six turbines" in victim_text() and "casino" not in victim_text()
        assert pipeline.store.get_article(f"{evil.base}/story") is not None  # its own URL is its id
        assert any("belongs to an entry of " + urls["rss"] in pr.reason for pr in first.problems), \
            [pr.line() for pr in first.problems]
        # The flip: both pages now declare another canonical URL. The victim's article stays.
        evil_page(f"{evil.base}/story-2")
        victim.set("/blog/post", article_html(victim.base, "velmora-tidal", hijack,
                                              canonical=f"{victim.base}/blog/post-2"))
        # ... and their feeds say the entries changed, so the pages are fetched again
        evil.set("/feed.xml", rss(evil.base, [{"title": "Velmora!", "link": f"{evil.base}/story", "guid": "e1"}]),
                 "application/rss+xml")
        victim.set("/blog.xml", rss(victim.base, [{"title": "Blog!", "link": f"{victim.base}/blog/post",
                                                   "guid": "b1"}]), "application/rss+xml")
        second = _pass(pipeline)
        assert {f.url: f.status for f in second.feeds}[urls["rss"]] == "304" and "six turbines" in victim_text()
        assert pipeline.store.get_article(f"{victim.base}/blog/post-2") is not None
        assert pipeline.store.get_article(f"{evil.base}/story-2") is not None
        third = _pass(pipeline)
        assert "six turbines" in victim_text() and third.failed == 0
    finally:
        victim.stop()
        evil.stop()


# --- 4. refresh as a job, caps (rows 4, 5) -----------------------------------------------------


def test_a_slow_feed_does_not_hold_the_request_and_42_refreshes_leave_healthz_free(tmp_path, site):
    build_site(site)
    for i in range(6):
        site.set(f"/slow-{i}.xml", site.routes["/news/rss.xml"].body, "application/rss+xml", delay_s=3.0)
    env = {"RAG_DATA_DIR": str(tmp_path / "store"), "RAG_FETCH_ALLOW_PRIVATE": "true", "RAG_FETCH_HOST_DELAY_S": "0",
           "RAG_FETCH_TIMEOUT_S": "10", "RAG_FETCH_RETRIES": "0", "RAG_FETCH_HOST_CONCURRENCY": "8"}
    with serving(env) as url, httpx.Client(base_url=url, timeout=30) as client:
        for i in range(6):
            assert client.post("/v1/feeds", json={"url": f"{site.base}/slow-{i}.xml"}).status_code == 201
        t0 = time.monotonic()
        first = client.post("/v1/feeds/refresh")
        took = time.monotonic() - t0
        assert first.status_code == 202 and first.json()["state"] == "running", first.text
        assert took < 2.0, took  # the feeds take 3 s each
        assert first.headers["location"] == f"/v1/feeds/jobs/{first.json()['id']}"
        answers: list[httpx.Response] = []

        def refresh() -> None:
            with httpx.Client(base_url=url, timeout=30) as c:
                answers.append(c.post("/v1/feeds/refresh"))

        threads = [threading.Thread(target=refresh) for _ in range(42)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        health = client.get("/healthz")
        health_s = time.monotonic() - t0
        for t in threads:
            t.join()
        assert health.status_code == 200 and health_s < 2.0, health_s
        assert {a.status_code for a in answers} == {202}
        assert {a.json()["id"] for a in answers} == {first.json()["id"]}  # one pass; they joined it
        assert all(a.json()["joined"] for a in answers)
        deadline = time.monotonic() + 90
        while (job := client.get(first.headers["location"]).json())["state"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert job["state"] == "finished" and len(job["feeds"]) == 6, job
        assert job["report"]["counts"]["new"] == 2 and job["finished_at"]
        assert len(site.requests("/slow-0.xml")) == 1
        assert client.get("/v1/feeds/jobs/nope").status_code == 404


def test_retry_after_a_minute_and_the_pass_budget_bound_a_pass(tmp_path, site, embedder):
    build_site(site)
    site.set("/busy.xml", "", "text/plain", status=503, headers={"Retry-After": "60"})
    site.routes["/busy.xml"].validators = False
    for i in range(4):
        site.set(f"/slow-{i}.xml", site.routes["/news/rss.xml"].body, "application/rss+xml", delay_s=1.5)
    pipeline = Pipeline(_settings(tmp_path, fetch_allow_private=True, fetch_retries=2, fetch_workers=1,
                                  feed_pass_budget_s=2.0), embedder=embedder)
    store = FeedStore.for_pipeline(pipeline)
    t0 = time.monotonic()
    with fetcher_from_settings(pipeline.settings) as fetcher:
        with pytest.raises(FetchError, match=r"HTTP 503 Service Unavailable \(asked to retry after 60s"):
            fetcher.get(f"{site.base}/busy.xml")
    assert time.monotonic() - t0 < 5 and len(site.requests("/busy.xml")) == 1
    for i in range(4):
        store.add(f"{site.base}/slow-{i}.xml")
    t0 = time.monotonic()
    report = _pass(pipeline, budget_s=2.0)
    assert time.monotonic() - t0 < 12
    statuses = [f.status for f in report.feeds]
    assert "deferred" in statuses, report.as_dict()
    assert any("RAG_FEED_PASS_BUDGET_S" in pr.reason for pr in report.problems)
    # the lease outlives the pass: budget plus a margin
    state = store.claim(f"{site.base}/slow-0.xml", "me", lease_s=2.0 + 120)
    assert state is not None and state.lease_until > time.time() + 100


def test_feeds_per_store_are_capped_and_feed_writes_need_a_feed_key(tmp_path, site, embedder):
    build_site(site)
    settings = _settings(tmp_path, fetch_allow_private=True, feeds_max=2, api_keys="reader,writer",
                         api_feed_keys="writer")
    client = TestClient(create_app(Pipeline(settings, embedder=embedder)))
    reader, writer = {"Authorization": "Bearer reader"}, {"Authorization": "Bearer writer"}
    url = f"{site.base}/news/rss.xml"
    denied = client.post("/v1/feeds", json={"url": url}, headers=reader)
    assert denied.status_code == 403 and "RAG_API_FEED_KEYS" in denied.json()["detail"]
    assert client.post("/v1/feeds/refresh", headers=reader).status_code == 403
    assert client.delete(f"/v1/feeds/{url}", headers=reader).status_code == 403
    assert client.post("/v1/feeds", json={"url": url}, headers=writer).status_code == 201
    assert client.post("/v1/feeds", json={"url": f"{site.base}/business/atom.xml"}, headers=writer).status_code == 201
    over = client.post("/v1/feeds", json={"url": f"{site.base}/third.xml"}, headers=writer)
    assert over.status_code == 409 and "RAG_FEEDS_MAX" in over.json()["detail"]
    assert len(client.get("/v1/feeds", headers=reader).json()["feeds"]) == 2


# --- 5. bounded work per fetch (rows 6-8) ------------------------------------------------------


def test_one_fetcher_per_process_limits_a_host_however_it_is_spelled(tmp_path, site):
    site.set("/slow", "x", "text/plain", delay_s=0.4)
    site.robots = ""
    settings = _settings(tmp_path, fetch_allow_private=True, fetch_host_concurrency=2)
    assert process_fetcher(settings) is process_fetcher(settings)  # every refresh in the process shares it
    spellings = ["127.0.0.1", "localhost", "127.1", "0x7f.1", "2130706433", "127.0.1"]
    errors: list[BaseException] = []

    def fetch(host: str) -> None:
        try:  # a new "refresh" each time: the Fetcher is looked up again
            process_fetcher(settings).get(f"http://{host}:{site.port}/slow")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=fetch, args=(spellings[i % len(spellings)],)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(site.requests("/slow")) == 12 and site.max_in_flight <= 2, site.max_in_flight


def _gzip_bomb() -> bytes:
    return gzip.compress(b"\0" * 200_000_000, compresslevel=9)  # ~194 KB on the wire


def test_a_compressed_body_is_decoded_a_bounded_piece_at_a_time(tmp_path, site):
    bomb = _gzip_bomb()
    assert len(bomb) < 250_000
    site.set("/bomb.xml", bomb, "application/rss+xml", headers={"Content-Encoding": "gzip"})
    site.set("/ok.xml", gzip.compress(b"<rss>" + b" " * 100_000 + b"</rss>"), "application/rss+xml",
             headers={"Content-Encoding": "gzip"})
    with fetcher_from_settings(_settings(tmp_path, fetch_allow_private=True)) as fetcher:
        assert fetcher.get(f"{site.base}/ok.xml").body.endswith(b"</rss>")  # decoded, as before
        tracemalloc.start()
        try:
            with pytest.raises(FetchError, match="body over the limit of 5,000,000 bytes"):
                fetcher.get(f"{site.base}/bomb.xml")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 20_000_000, f"peak {peak / 1e6:.1f} MB"  # the limit plus a piece, not a whole read


def _link_page(n_bytes: int) -> bytes:
    row = '<li><a href="/l/{i}">Link number {i} of the directory</a></li>\n'
    rows, size, i = [], 0, 0
    while size < n_bytes:
        line = row.format(i=i)
        rows.append(line)
        size += len(line)
        i += 1
    return ("<html><head><title>Directory</title></head><body><ul>" + "".join(rows) + "</ul></body></html>").encode()


def test_extraction_has_a_time_budget_and_a_text_cap(tmp_path, site):
    site.set("/links.html", _link_page(4_900_000))
    long_text = [f"Paragraph {i} of the council report says the harbour works will continue through the "
                 f"winter months and the ferry basin stays closed until spring number {i}." for i in range(3000)]
    site.set("/long.html", article_html(site.base, "velmora-tidal", long_text))
    settings = _settings(tmp_path, fetch_allow_private=True, fetch_extract_timeout_s=3.0,
                         fetch_max_text_chars=20_000, fetch_timeout_s=10.0)
    with fetcher_from_settings(settings) as fetcher:
        p = fetcher.policy
        long = page_article(fetcher.get(f"{site.base}/long.html"), max_chars=p.max_text_chars,
                            timeout_s=p.extract_timeout_s)
        assert 10_000 < len(long.text) <= 20_000 and long.text.endswith(".")
        page = fetcher.get(f"{site.base}/links.html")
        t0 = time.monotonic()
        with pytest.raises(Exception, match=r"text extraction took longer than 3s \(RAG_FETCH_EXTRACT_TIMEOUT_S\)"):
            page_article(page, max_chars=p.max_text_chars, timeout_s=p.extract_timeout_s)
        assert time.monotonic() - t0 < 10
        # the worker is replaced: the next page extracts again
        again = page_article(fetcher.get(f"{site.base}/long.html"), max_chars=p.max_text_chars,
                             timeout_s=p.extract_timeout_s)
        assert again.text == long.text


# --- 6. credentials, deletes during a pass, control characters, seen (rows 9-12) ----------------


def test_credentials_in_urls_are_refused_and_never_shown(tmp_path, site, embedder):
    build_site(site)
    secret_url = f"http://reader:hunter2secret@127.0.0.1:{site.port}/news/rss.xml"
    settings = _settings(tmp_path, fetch_allow_private=True)
    pipeline = Pipeline(settings, embedder=embedder)
    client = TestClient(create_app(pipeline))
    bad = client.post("/v1/feeds", json={"url": secret_url})
    assert bad.status_code == 422 and "hunter2" not in bad.text and "***@" in bad.text, bad.text
    assert "credentials" in bad.json()["detail"]
    # One stored before the rule: listed, polled and reported without the password, never sent.
    FeedStore.for_pipeline(pipeline).save(FeedState(url=secret_url, added_at="2026-01-01T00:00:00+00:00"))
    site.set("/redir.xml", "", status=302, location=f"http://u:hunter2secret@127.0.0.1:{site.port}/news/rss.xml")
    FeedStore.for_pipeline(pipeline).add(f"{site.base}/redir.xml")
    started = client.post("/v1/feeds/refresh")
    job = _wait_job(client, started.json()["id"])
    assert job["state"] == "finished" and "hunter2" not in json.dumps(job), job
    listed = client.get("/v1/feeds")
    assert "hunter2" not in listed.text and "reader:" not in listed.text and "***@" in listed.text
    assert not any("authorization" in {k.lower() for k in h.headers} for h in site.requests())
    assert site.requests("/robots.txt") == [] or all(h.path != "/news/rss.xml" for h in site.requests())
    run = _rag(tmp_path, "feeds", "list", "--json")
    assert run.returncode == 0 and "hunter2" not in run.stdout and "***@" in run.stdout
    watch = _rag(tmp_path, "watch", "--once", RAG_FETCH_ALLOW_PRIVATE="true")
    assert "hunter2" not in watch.stdout + watch.stderr and "***@" in watch.stderr, watch.stderr
    added = _rag(tmp_path, "feeds", "add", secret_url)
    assert added.returncode == 1 and "hunter2" not in added.stderr and "credentials" in added.stderr
    # A canonical URL with credentials in it does not put them into an article id.
    site.set("/cred-canonical", article_html(site.base, "orsk-library",
                                            canonical=f"http://x:hunter2secret@127.0.0.1:{site.port}/news/o"))
    with fetcher_from_settings(settings) as fetcher:
        article = page_article(fetcher.get(f"{site.base}/cred-canonical"))
    assert "hunter2" not in article.id and "@" not in article.id


def test_a_feed_removed_during_a_pass_stays_removed(tmp_path, site, embedder):
    build_site(site)
    site.set("/slow.xml", site.routes["/news/rss.xml"].body, "application/rss+xml", delay_s=2.0)
    pipeline = Pipeline(_settings(tmp_path, fetch_allow_private=True), embedder=embedder)
    client = TestClient(create_app(pipeline))
    url = f"{site.base}/slow.xml"
    assert client.post("/v1/feeds", json={"url": url}).status_code == 201
    job_id = client.post("/v1/feeds/refresh").json()["id"]
    deadline = time.monotonic() + 30
    while not site.requests("/slow.xml"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.delete(f"/v1/feeds/{url}").status_code == 200
    job = _wait_job(client, job_id)
    assert job["state"] == "finished", job
    assert client.get("/v1/feeds").json()["feeds"] == []


def test_c1_controls_in_a_feed_url_never_reach_the_terminal(tmp_path, site):
    build_site(site)
    url = f"{site.base}/news/rss.xml?x=%C2%9B31m\u009b2J"
    added = _rag(tmp_path, "feeds", "add", f"{site.base}/feed%C2%9B.xml", RAG_FETCH_ALLOW_PRIVATE="true")
    assert added.returncode == 0, added.stderr
    pipeline_store = Pipeline(Settings(data_dir=tmp_path / "store"))
    FeedStore.for_pipeline(pipeline_store).save(FeedState(url=url, added_at="2026-01-01T00:00:00+00:00",
                                                          last_error="HTTP 404 at \u009b2J"))
    del pipeline_store
    outputs = [_rag(tmp_path, "feeds", "list", "--json"), _rag(tmp_path, "feeds", "list"),
               _rag(tmp_path, "watch", "--once", RAG_FETCH_ALLOW_PRIVATE="true"),
               _rag(tmp_path, "watch", "--once", "--json", RAG_FETCH_ALLOW_PRIVATE="true")]
    for run in outputs:
        for text in (run.stdout, run.stderr):
            assert not any(0x80 <= ord(ch) <= 0x9F or ch == "\x1b" for ch in text), repr(text[:500])
    assert "\\u009b" in outputs[0].stdout  # --json escapes it: the value is kept


def test_seen_keeps_every_listed_entry_and_a_bounded_tail(tmp_path):
    state = FeedState(url="https://news.example.org/feed.xml", added_at="")
    state.seen = {f"e{i}": {"fp": "x", "id": f"https://news.example.org/{i}", "full": True} for i in range(9000)}
    listed = {f"e{i}" for i in range(3000, 9000)}  # a 6,000-entry feed: none of it churns
    _bound_seen(state, listed)
    assert listed <= set(state.seen) and len(state.seen) == 6000 + 2000
    assert "e0" not in state.seen and "e2999" in state.seen  # the most recent unlisted ones stay
