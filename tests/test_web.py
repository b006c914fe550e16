"""The chat page in a real headless browser (Debian's chromium driven by Playwright) against a
real `rag serve`. Saves a screenshot to out/screenshots/ as a test artifact."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import ROOT, SEED_QUESTION, SEEDS, serving

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "out" / "screenshots"
EVIL = {
    "id": "evil-1",
    "title": "Zorblat <script>window.__pwned = 'title'</script> news",
    "published_at": "2025-06-01",
    "text": ("The Zorblat company announced <img src=x onerror=\"window.__pwned='img'\"> a new tractor plant "
             "<script>window.__pwned='text'</script> in Minsk. Zorblat said the plant opens in 2026."),
}


RUSSIAN = {  # emoji before the quote: offsets count code points, which JavaScript strings do not
    "id": "ru-1", "title": "Завод Зорблат в Минске", "published_at": "2025-06-02",
    "text": "🚜🥛🏗️ Новости недели. Завод Зорблат открылся в Минске в 2026 году. Он выпускает тракторы.",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):  # type: ignore[no-untyped-def]
    store = tmp_path_factory.mktemp("web") / "store"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {"RAG_DATA_DIR": str(store)}
    subprocess.run([sys.executable, "-m", "rag", "ingest", str(SEEDS)], env=env, check=True, capture_output=True)
    with serving({"RAG_DATA_DIR": str(store)}) as url:
        assert httpx.post(f"{url}/v1/articles", json=EVIL, timeout=60).json()["counts"]["added"] == 1
        assert httpx.post(f"{url}/v1/articles", json=RUSSIAN, timeout=60).json()["counts"]["added"] == 1
        yield url


@pytest.fixture(scope="module")
def page():  # type: ignore[no-untyped-def]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        yield browser.new_page(viewport={"width": 1100, "height": 900})
        browser.close()


def ask(page, question: str, turn: int) -> None:  # type: ignore[no-untyped-def]
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_selector(f"#turn-{turn}[data-state=done]", timeout=60_000)


def test_the_page_answers_and_a_marker_shows_its_quote_in_the_article(site, page):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(site)
    assert "script-src 'self'" in httpx.get(site).headers["content-security-policy"]
    ask(page, SEED_QUESTION, 1)
    expected = httpx.post(f"{site}/v1/ask", json={"question": SEED_QUESTION}, timeout=60).json()
    assert page.inner_text("#turn-1 .answer").replace("\n", " ").startswith(expected["answer"][:60])
    # how sure the answer is, as the API says it (rounded half up, as JavaScript's Math.round)
    assert page.inner_text("#turn-1 .confidence") == f"Confidence: {int(expected['confidence'] * 100 + 0.5)}%"

    page.click("#turn-1 a.marker[data-n='3']")
    assert page.evaluate("location.hash") == "#src-1-3"
    third = expected["citations"][2]
    assert page.inner_text("#src-1-3 mark") == third["quote"]
    assert third["title"] in page.inner_text("#src-1-3 .source-head")
    context = page.inner_text("#src-1-3 .context")  # the quote sits inside its surrounding text
    assert context.index(third["quote"]) > 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "web-chat.png"), full_page=True)

    ask(page, "And what about the milk plant?", 2)  # a follow-up, with the page's history
    assert "milk" in page.inner_text("#turn-2").lower()
    assert not dialogs


def test_article_text_is_shown_as_text_and_never_runs(site, page):
    ask(page, "What did the Zorblat company announce?", 3)
    shown = page.inner_text("#turn-3")
    assert "<img src=x onerror=" in shown and "<script>" in shown  # visible as text ...
    assert page.evaluate("window.__pwned") is None  # ... and never executed
    assert page.locator("#turn-3 img, #turn-3 script").count() == 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "web-chat-hostile-article.png"), full_page=True)
    print(json.dumps({"screenshots": [str(p) for p in sorted(SHOTS.glob("*.png"))]}))


def test_a_russian_quote_is_shown_in_its_context_with_its_language(site, page):
    question = "Где открылся завод Зорблат?"
    expected = httpx.post(f"{site}/v1/ask", json={"question": question}, timeout=60).json()
    assert not expected["refused"], expected
    first = expected["citations"][0]
    assert first["language"] == "ru" and first["article_id"] == "ru-1"
    page.goto(site)  # a fresh page: this is its first turn
    ask(page, question, 1)
    page.click("#turn-1 a.marker[data-n='1']")
    assert page.inner_text("#src-1-1 mark") == first["quote"] == RUSSIAN["text"][first["start"]:first["end"]]
    assert page.get_attribute("#src-1-1 .context", "lang") == "ru"
    assert "ru" in page.inner_text("#src-1-1 .source-head")
    assert page.inner_text("#src-1-1 .context").index(first["quote"]) > 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "web-chat-russian.png"), full_page=True)
