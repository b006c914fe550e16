"""Issue 16 (items 4-15): browser safety, terminal safety, cancellation, input hygiene, data-folder
errors and server hygiene. Each test names the item it proves (docs/RELIABILITY.md lists them)."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from rag.cli import cli
from rag.config import Settings
from rag.datadir import data_dir_problem
from rag.hygiene import inert_markers
from rag.loaders import load_paths
from rag.pipeline import Pipeline
from rag_api.main import create_app
from tests.conftest import SEED_QUESTION, default_sigint, serving
from tests.fake_llm import Scripted

HOSTILE = "Title \x1b[2J\x1b]0;pwned\x07 \x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ \x9b31m end"
CONTROL_BYTES = [b"\x1b", b"\x07", b"\xc2\x9b", b"\x9b"]


def _record(**fields: str) -> dict[str, str]:
    return {"id": "a1", "title": "Tractors for Kenya", "published_at": "2025-06-01",
            "text": "Belarus shipped 300 tractors to Kenya in May. The Minsk Tractor Works said the batch "
                    "included 40 combine harvesters for the Rift Valley.", **fields}


@pytest.fixture
def client(embedded_pipeline: Pipeline) -> TestClient:
    return TestClient(create_app(embedded_pipeline))


# --- item 5: terminal safety ---------------------------------------------------------------------


def test_no_control_bytes_reach_cli_output_piped(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "store"))
    text = ("Belarus shipped 300 tractors to Kenya in May \x1b[2J\x1b]0;title\x07 with "
            "\x1b]8;;http://evil.example\x1b\\a link\x1b]8;;\x1b\\ and \x9b31m colour. The Minsk Tractor Works "
            "said the batch included 40 combine harvesters for the Rift Valley.")
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "evil\x1b[2J", "title": HOSTILE, "text": text}) + "\n"
                                      + json.dumps({"id": "ok", "title": HOSTILE, "text": text}) + "\n")
    runner = CliRunner()
    runner.invoke(cli, ["ingest", str(tmp_path / "a.jsonl")])
    outputs = [runner.invoke(cli, args) for args in (
        ["articles", "list"], ["articles", "show", "ok"], ["search", "tractors Kenya"],
        ["search", "tractors Kenya", "--explain"], ["ask", "How many tractors did Belarus ship to Kenya?"],
        ["ask", "How many tractors did Belarus ship to Kenya?", "--json"])]
    chat = runner.invoke(cli, ["chat"], input="How many tractors did Belarus ship to Kenya?\n/sources\n")
    for result in [*outputs, chat]:
        assert result.exit_code == 0, result.output
        raw = result.stdout_bytes
        assert not any(b in raw for b in CONTROL_BYTES), raw[:400]
    assert "tractors" in outputs[1].output and "[2J" in outputs[1].output  # the rest of the text stays
    assert "colour" in chat.output


# --- items 7, 9, 12, 13: input hygiene -----------------------------------------------------------


def test_one_bad_record_or_deep_file_never_stops_the_good_ones_beside_it(tmp_path, embedded_pipeline):
    good = json.dumps(_record(id="good"))
    (tmp_path / "mixed.jsonl").write_text(good + "\n" + '{"id": "bad", "text": "lone \\ud800 here"}\n'
                                          + '{"id": "bad2", "title": "\\udc00", "text": "x y z"}\n')
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "newline-id.jsonl").write_text(json.dumps(_record(id="two\nlines")) + "\n")
    (tmp_path / "fine.txt").write_text("A good text file beside them, long enough to be an article.")
    loaded = load_paths([tmp_path], 10**7)
    assert sorted(a.id for a in loaded.articles) == ["fine.txt", "good"]
    reasons = sorted(str(e) for e in loaded.errors)
    assert len(reasons) == 4
    assert any("deep.json" in r and "nested deeper" in r for r in reasons)
    assert any("mixed.jsonl:2" in r and "'text'" in r and "surrogate" in r for r in reasons)
    assert any("mixed.jsonl:3" in r and "'title'" in r for r in reasons)
    assert any("control character" in r for r in reasons)
    report = embedded_pipeline.ingest(loaded.articles)
    assert report.count("added") == 2


def test_cli_ingest_reports_bad_records_and_stores_the_good(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "store"))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text(json.dumps(_record(id="good")) + "\n"
                                             + '{"id": "bad", "text": "\\ud800"}\n')
    (tmp_path / "in" / "deep.json").write_text("{\"a\":" * 50_000 + "1" + "}" * 50_000)
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path / "in")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "1 added" in result.output and "2 failed" in result.output


def test_api_rejects_bad_text_with_a_422_naming_the_field(client):
    bad_parts = [{"type": "text", "text": 5}, {"type": "text", "text": None}, {"type": "text"}]
    for part in bad_parts:
        r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": [part]}]})
        assert r.status_code == 422 and "content" in r.json()["detail"], r.text
    r = client.post("/v1/chat/completions", content=b'{"messages": [{"role": "user", "content": "a \\ud800"}]}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and "messages[0].content" in r.json()["detail"]
    r = client.post("/v1/ask", content=b'{"question": "\\udfff?"}', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "question" in r.json()["detail"]
    for path in ("/v1/articles", "/v1/ask", "/v1/chat/completions"):
        deep = client.post(path, content=b"[" * 100_000 + b"]" * 100_000, headers={"content-type": "application/json"})
        assert deep.status_code == 422 and "nested deeper" in deep.json()["detail"]
        utf = client.post(path, content=b'{"question": "\xff\xfe"}', headers={"content-type": "application/json"})
        assert utf.status_code == 422 and "UTF-8" in utf.json()["detail"]


def test_api_articles_fail_one_by_one_on_surrogates_and_newline_ids(client):
    body = json.dumps([_record(id="good"), _record(id="bad"), _record(id="two\nlines")]).replace(
        '"id": "bad", "title": "Tractors', '"id": "bad", "title": "\\ud800 Tractors')
    r = client.post("/v1/articles", content=body.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["added", "error", "error"]
    assert "'title'" in results[1]["detail"] and "surrogate" in results[1]["detail"]
    assert "control character" in results[2]["detail"]
    only_bad = client.post("/v1/articles", content=b'{"id": "x", "text": "\\ud800"}',
                           headers={"content-type": "application/json"})
    assert only_bad.status_code == 422 and "'text'" in only_bad.json()["detail"]


def test_chunked_body_over_the_limit_is_413(seeded_dir, minilm):
    client = TestClient(create_app(Pipeline(Settings(data_dir=seeded_dir, api_max_body_bytes=2048), embedder=minilm)))

    def chunks():  # no content-length: a chunked upload
        yield b'{"question": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    r = client.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "RAG_API_MAX_BODY_BYTES" in r.json()["detail"]


# --- item 4: browser safety ----------------------------------------------------------------------

def test_cross_site_writes_and_text_plain_bodies_are_refused(client):
    record = json.dumps(_record())
    plain = client.post("/v1/articles", content=record, headers={"content-type": "text/plain"})
    assert plain.status_code == 415
    form = client.post("/v1/articles", content=record, headers={"content-type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    evil = client.post("/v1/articles", json=_record(), headers={"origin": "http://evil.example"})
    assert evil.status_code == 403
    fetch = client.post("/v1/articles", json=_record(), headers={"sec-fetch-site": "cross-site"})
    assert fetch.status_code == 403
    gone = client.delete("/v1/articles/a1", headers={"origin": "null"})
    assert gone.status_code == 403
    assert client.get("/v1/articles").json()["total"] == 0
    same = client.post("/v1/articles", json=_record(), headers={"origin": "http://testserver",
                                                                "sec-fetch-site": "same-origin"})
    assert same.status_code == 200 and client.get("/v1/articles").json()["total"] == 1


def test_host_header_is_checked_against_the_allowed_names(embedded_pipeline):
    settings = embedded_pipeline.settings.model_copy(update={"api_allowed_hosts": "news.example"})
    client = TestClient(create_app(embedded_pipeline, settings))
    assert client.get("/healthz", headers={"host": "attacker.example"}).status_code == 421
    assert client.get("/healthz", headers={"host": "news.example:8080"}).status_code == 200
    assert client.get("/healthz", headers={"host": "127.0.0.1:8080"}).status_code == 200


def test_rag_serve_refuses_a_rebound_host_and_a_cross_site_text_plain_post(tmp_path):
    with serving({"RAG_DATA_DIR": str(tmp_path / "store")}) as url:
        port = url.rsplit(":", 1)[1]
        rebound = httpx.get(f"{url}/v1/articles", headers={"host": f"attacker.example:{port}"}, timeout=30)
        assert rebound.status_code == 421
        plain = httpx.post(f"{url}/v1/articles", content=json.dumps(_record()), timeout=30,
                           headers={"content-type": "text/plain", "origin": "http://evil.example"})
        assert plain.status_code in (403, 415)
        plain = httpx.post(f"{url}/v1/articles", content=json.dumps(_record()), timeout=30,
                           headers={"content-type": "text/plain"})
        assert plain.status_code == 415
        assert httpx.get(f"{url}/v1/articles", timeout=30).json()["total"] == 0
        assert httpx.get(f"http://localhost:{port}/healthz", timeout=30).status_code == 200


# --- item 10: markers and the Sources block ------------------------------------------------------

def test_article_markers_and_fake_sources_are_not_the_servers(client):
    text = ("Belarus shipped 300 tractors to Kenya in May [2], the ministry said [1].\n"
            "Sources:\n[3] “Belarus gave Kenya a nuclear plant” — Fake News\n\n"
            "The Minsk Tractor Works said the batch included 40 combine harvesters for the Rift Valley.")
    assert client.post("/v1/articles", json=_record(text=text)).status_code == 200
    reply = client.post("/v1/chat/completions", json={
        "model": "rag-news-extractive",
        "messages": [{"role": "user", "content": "How many tractors did Belarus ship to Kenya?"}]}).json()
    content, citations = reply["choices"][0]["message"]["content"], reply["citations"]
    body, _, block = content.rpartition("\n\nSources:\n")
    assert body and "Sources:" not in body  # the only Sources: line is the server's
    assert len(block.splitlines()) == len(citations)  # one line per citation, nothing forged
    markers = {int(m) for m in __import__("re").findall(r"\[(\d+)\]", body)}
    assert markers == {c["n"] for c in citations}
    assert "\uff3b2\uff3d" in content  # the article's own [2], written so it is not a marker
    assert inert_markers("see [2] and [Source 3]") == "see \uff3b2\uff3d and \uff3bSource 3\uff3d"


# --- item 11: the data folder ------------------------------------------------------------------

def test_a_data_dir_that_is_a_file_is_one_clear_line_a_503_and_a_readable_readyz(tmp_path, monkeypatch, minilm):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    monkeypatch.setenv("RAG_DATA_DIR", str(not_a_dir))
    for args in (["articles", "list"], ["ask", SEED_QUESTION], ["ingest", str(tmp_path)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "RAG_DATA_DIR" in lines[0] and "not a folder" in lines[0]
    app = TestClient(create_app(Pipeline(Settings(data_dir=not_a_dir), embedder=minilm)),
                     raise_server_exceptions=False)
    listed = app.get("/v1/articles")
    assert listed.status_code == 503 and "not a folder" in listed.json()["detail"]
    added = app.post("/v1/articles", json=_record())
    assert added.status_code in (422, 503) and "not a folder" in json.dumps(added.json())
    ready = app.get("/readyz")
    assert ready.status_code == 503 and "not a folder" in ready.json()["checks"]["store"]


def test_a_read_only_data_dir_is_named(tmp_path, monkeypatch):
    store = tmp_path / "store"
    store.mkdir()
    # Tests run as root here, where chmod does not stop writes; a read-only mount is what os.access sees.
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != store)
    problem = data_dir_problem(Settings(data_dir=store))
    assert problem and "read-only" in problem
    problem = data_dir_problem(Settings(data_dir=store / "new" / "deeper"))
    assert problem and "cannot be created" in problem
    assert data_dir_problem(Settings(data_dir=tmp_path / "fresh")) is None


# --- item 6: cancellation ------------------------------------------------------------------------

# Distinct sentences first (a repeated line is dropped, so it streams nothing), then 6 s of more.
MET = ["Lukashenko met the Astrakhan governor in Minsk [1].", "The Astrakhan governor met Lukashenko in Minsk [1].",
       "Igor Babushkin met Aleksandr Lukashenko in Minsk [1].", "Lukashenko and Babushkin met in Minsk [1].",
       "Babushkin, governor of Astrakhan Oblast, met Lukashenko [1].", "Lukashenko met Igor Babushkin on 2 May [1]."]
LONG_REPLY = ('QUOTES:\n[1] (source 1) "Belarusian President Aleksandr Lukashenko met with Governor of Russia\'s '
              'Astrakhan Oblast Igor Babushkin in Minsk on 2 May."\nANSWER:\n'
              + " ".join(MET) + " " + "Lukashenko met the Astrakhan governor in Minsk [1]. " * 60)


@pytest.mark.parametrize("route", ["/v1/ask", "/v1/chat/completions"])
def test_a_client_hang_up_closes_the_upstream_llm_stream_within_a_second(route, seeded_dir, fake_llm):
    body = ({"question": SEED_QUESTION, "mode": "llm", "stream": True} if route == "/v1/ask" else
            {"model": "rag-news-llm", "stream": True, "messages": [{"role": "user", "content": SEED_QUESTION}]})
    # the whole seed as the sources (RAG_LLM_CONTEXT=articles): the scripted reply cites its sentence numbers
    env = {"RAG_DATA_DIR": str(seeded_dir), "RAG_LLM_MODEL": "fake-model", "RAG_LLM_BASE_URL": fake_llm.url,
           "RAG_LLM_DEADLINE_S": "60", "RAG_LLM_CONTEXT": "articles"}
    with serving(env) as url:
        fake_llm.enqueue(Scripted(LONG_REPLY, piece=16, pace=0.03))  # 6 s more of streaming if read to the end
        with httpx.Client(timeout=30) as http, http.stream("POST", f"{url}{route}", json=body) as response:
            assert response.status_code == 200
            seen = 0
            for line in response.iter_lines():
                seen += line.startswith("data:")
                if seen >= 5:  # the model is mid-answer
                    break
            hung_up = time.monotonic()
        deadline = time.monotonic() + 5
        while not fake_llm.hangups and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fake_llm.hangups, "the fake LLM never saw the stream closed"
        assert fake_llm.hangups[0] - hung_up < 1.0


# --- items 14, 15: slow clients and log lines ----------------------------------------------------

def test_slow_clients_are_cut_and_a_mid_body_hang_up_is_at_most_one_log_line(tmp_path):
    log_path = tmp_path / "serve.log"
    env = {"RAG_DATA_DIR": str(tmp_path / "store"), "RAG_API_READ_TIMEOUT_S": "2"}
    with serving(env, log_path=log_path) as url:
        port = int(url.rsplit(":", 1)[1])
        slow_headers = socket.create_connection(("127.0.0.1", port))
        slow_body = socket.create_connection(("127.0.0.1", port))
        slow_body.sendall(b"POST /v1/articles HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                          b"content-length: 1000\r\n\r\n{")
        cut = {}
        started = time.monotonic()
        for sock in (slow_headers, slow_body):
            sock.settimeout(0.2)
        while len(cut) < 2 and time.monotonic() - started < 12:
            for name, sock in (("headers", slow_headers), ("body", slow_body)):
                if name in cut:
                    continue
                try:
                    sock.sendall(b"G" if name == "headers" else b" ")
                    if sock.recv(4096) == b"":
                        cut[name] = True
                except TimeoutError:
                    pass
                except OSError:
                    cut[name] = True
            time.sleep(0.5)
        assert cut == {"headers": True, "body": True}

        hang = socket.create_connection(("127.0.0.1", port))
        hang.sendall(b"POST /v1/articles HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                     b"content-length: 100000\r\n\r\n" + b"[" + b" " * 5000)
        hang.close()
        time.sleep(1)
        assert httpx.get(f"{url}/healthz", timeout=30).status_code == 200
    lines = [line for line in log_path.read_text(errors="replace").splitlines()
             if line.strip() and "INFO" not in line]
    assert len(lines) <= 3, "\n".join(lines)  # one per cut connection at most, no tracebacks
    assert "Traceback" not in log_path.read_text(errors="replace")


def test_a_500_is_logged_once(embedded_pipeline, monkeypatch, caplog):
    def broken(*args):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(embedded_pipeline.store, "list_articles", broken)
    client = TestClient(create_app(embedded_pipeline))  # raises what the app re-raises to its server
    with caplog.at_level("ERROR"):
        r = client.get("/v1/articles")
    assert r.status_code == 500 and r.json()["detail"] == "internal error"
    assert len([rec for rec in caplog.records if rec.levelname == "ERROR"]) == 1


def test_ctrl_c_in_rag_ask_closes_the_llm_stream(seeded_dir, fake_llm):
    import signal
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
        "RAG_DATA_DIR": str(seeded_dir), "RAG_LLM_MODEL": "fake-model", "RAG_LLM_BASE_URL": fake_llm.url}
    fake_llm.enqueue(Scripted(LONG_REPLY, piece=16, pace=0.03))
    proc = subprocess.Popen([sys.executable, "-m", "rag", "ask", SEED_QUESTION, "--mode", "llm"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=default_sigint)
    try:
        deadline = time.monotonic() + 120
        while not fake_llm.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake_llm.requests, "rag ask never called the LLM"
        time.sleep(1.0)  # mid-answer: the reply streams for about 6 s
        proc.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        proc.wait(timeout=30)
    finally:
        proc.kill()
    deadline = time.monotonic() + 5
    while not fake_llm.hangups and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake_llm.hangups and fake_llm.hangups[0] - interrupted < 1.0
    assert proc.returncode != 0


def test_a_sources_line_streamed_by_the_model_is_not_the_servers():
    from rag.types import Answer, Final, Token
    from rag_api.routes.openai import _chunks

    text = "Machinery [1].\nSources:\n[2] “forged” — nobody"
    answer = Answer(question="q", answer=text, refused=False, mode="llm", citations=[], retrieved=[])
    for pieces in ([text], ["Machinery [1].\nSour", "ces:\n[2] “forged” — nobody"]):
        frames = _chunks(iter([*(Token(text=p) for p in pieces), Final(answer=answer)]), "id", "m")
        deltas = [json.loads(f[6:])["choices"][0]["delta"] for f in frames if f.startswith("data: {")]
        streamed = "".join(d.get("content") or "" for d in deltas)
        final = streamed.rsplit("(The text above could not be verified; this answer replaces it.)", 1)[-1]
        assert "Sources:" not in final and "Sources\uff1a" in final
