"""`rag eval --report`: one self-contained HTML page, opened in Debian's chromium (Playwright,
no download) from a file:// URL with no server and the network unused. Screenshots go to
out/screenshots/ as test artifacts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.evals.dataset import Dataset, Question, Span
from rag.evals.metrics import Outcome, compute
from rag.evals.report import compare_report, run_report
from rag.evals.runner import EvalRun, answer_records
from rag.types import Answer, Citation
from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "out" / "screenshots"
TEXT = ("Belarusian President Aleksandr Lukashenko met Governor Igor Babushkin in Minsk on 2 May. "
        "Belarus offered Astrakhan a dairy plant & <b>tractors</b>. The plant opens in 2026.")


def outcome(i: int, answerable: bool, answer: str, refused: bool, confidence: float | None,
            quote: str | None = None) -> Outcome:
    citations = []
    if quote:
        start = TEXT.index(quote)
        citations = [Citation(n=1, article_id="a", chunk_id="a::0", title="Lukashenko meets Babushkin",
                              published_at="2025-05-02", quote=quote, start=start, end=start + len(quote))]
    q = Question(id=f"q{i}", question=f"Question {i} about Minsk?", answerable=answerable,
                 answers=(("Minsk",),) if answerable else (), evidence=(),
                 spans=((Span("a", 0, 80),),) if answerable else ())
    a = Answer(question=q.question, answer=answer, refused=refused, mode="extractive", citations=citations,
               retrieved=[], confidence=confidence, notice="Refused: the sources do not say." if refused else None)
    return Outcome(q, a, [], 5.0)


def make_run(flip: bool = False) -> tuple[dict, list[dict]]:  # type: ignore[type-arg]
    quote = "Belarusian President Aleksandr Lukashenko met Governor Igor Babushkin in Minsk on 2 May."
    outcomes = [outcome(i, True, "They met in Minsk. [1]", False, 0.9 - i / 20, quote) for i in range(6)]
    outcomes += [outcome(6, True, "Belarus offered a dairy plant & <b>tractors</b>. [1]", False, 0.4,
                         "Belarus offered Astrakhan a dairy plant & <b>tractors</b>.")]
    outcomes += [outcome(7, False, "", True, 0.1), outcome(8, False, "In 2026. [1]", not flip, 0.3,
                                                            None if not flip else "The plant opens in 2026.")]
    run = EvalRun(compute(outcomes, {"a": TEXT}), Dataset([o.question for o in outcomes], []), outcomes, [],
                  {"a": TEXT})
    return run.metrics, answer_records(run)


def test_report_is_self_contained_and_escapes_article_text() -> None:
    metrics, records = make_run()
    html = run_report(metrics, records, "eval <seed>")
    assert "<b>tractors</b>" not in html and "&lt;b&gt;tractors&lt;/b&gt;" in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)  # nothing fetched
    assert "<svg" in html and "class=\"curve\"" in html and "<mark>" in html
    assert "the sources do not say" in html


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is missing: run `make browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        yield b
        b.close()


def open_page(browser, path: Path):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors, requests


def test_report_opens_in_chromium_with_the_curve_and_a_highlighted_quote(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    metrics, records = make_run()
    path = tmp_path / "report.html"
    path.write_text(run_report(metrics, records, "rag eval: seed"), encoding="utf-8")
    page, errors, requests = open_page(browser, path)
    curve = page.locator("svg.risk-coverage polyline.curve")
    assert curve.count() == 1 and curve.is_visible()
    assert curve.bounding_box()["width"] > 50  # type: ignore[index]
    mark = page.locator("tr.question mark").first
    assert mark.is_visible() and "Minsk on 2 May" in mark.inner_text()
    assert "Lukashenko meets Babushkin" in page.locator("tr.question .quote").first.inner_text()
    assert page.locator("tr.question").count() == 9
    assert "shown_precision" in page.inner_text("table.metrics")
    assert "the sources do not say" in page.inner_text("table.refusals")
    page.click("button[data-verdict=wrong]")  # the filter shows the wrong answers only
    visible = [r for r in page.locator("tr.question").all() if r.is_visible()]
    assert len(visible) == 1 and "q6" in visible[0].inner_text()
    page.click("button[data-verdict=all]")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "eval-report.png"), full_page=True)
    assert errors == [] and requests == [path.as_uri()]


def test_compare_report_puts_changed_questions_first(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    before, after = make_run(), make_run(flip=True)
    path = tmp_path / "compare.html"
    path.write_text(compare_report({"before": before, "after": after}, "rag eval compare"), encoding="utf-8")
    page, errors, _ = open_page(browser, path)
    first = page.locator("tr.question").first
    assert "q8" in first.inner_text() and "changed" in first.inner_text()
    assert page.locator("svg.risk-coverage polyline.curve").count() == 2
    assert "delta" in page.inner_text("table.metrics")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "eval-compare.png"), full_page=True)
    assert errors == []
