from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from rag.cli.common import get_pipeline, is_terminal, say, user_errors

if TYPE_CHECKING:
    from rag.loaders import Loaded
    from rag.pipeline import IngestReport, Pipeline
    from rag.types import Article

_PROGRESS_FROM = 20  # articles; fewer finish before a progress bar would help


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--allow-private", is_flag=True,
              help="Also fetch URLs on loopback and private (RFC 1918) addresses (RAG_FETCH_ALLOW_PRIVATE).")
def ingest(paths: tuple[str, ...], allow_private: bool) -> None:
    """Add articles from files and folders (.txt, .md, .json, .jsonl, .html), and from http(s)
    URLs of article pages or RSS/Atom feeds (each entry's page is fetched; an article's id is its
    canonical URL).

    Re-ingesting an unchanged article does nothing; an edited one replaces all its chunks.
    Bad files are reported one per line and the rest are still ingested (exit status 1).

    \b
    Example:
      rag ingest seeds/ news.jsonl page.html
      rag ingest https://example.org/news/rss.xml https://example.org/2026/story.html
    """
    from rag.loaders import load_paths

    pipeline = get_pipeline()
    urls = [p for p in paths if p.lower().startswith(("http://", "https://"))]
    with user_errors():
        loaded = load_paths([p for p in paths if p not in urls], pipeline.settings.max_file_bytes)
        if urls:
            _add_urls(pipeline, urls, loaded, allow_private)
        for error in loaded.errors:
            say(f"error: {error}", err=True)
        report = ingest_with_progress(pipeline, loaded.articles)
    for article_id, status, detail in report.results:
        if status == "failed" and detail:
            say(f"error: {article_id}: {detail}", err=True)
    failed = report.count("failed") + len(loaded.errors)
    say(
        f"{report.count('added')} added, {report.count('updated')} updated, "
        f"{report.count('unchanged')} unchanged, {failed} failed"
    )
    if failed:
        raise SystemExit(1)


def _add_urls(pipeline: Pipeline, urls: list[str], loaded: Loaded, allow_private: bool = False) -> None:
    from rag.cli.feeds import fetch_settings
    from rag.feeds import collect_urls, process_fetcher

    settings = fetch_settings(pipeline, allow_private)
    collected = collect_urls(urls, process_fetcher(settings), settings.feed_max_entries)
    for notice in collected.notices:
        say(notice, err=True)
    known = {a.id for a in loaded.articles}
    loaded.articles.extend(a for a in collected.articles if a.id not in known)
    loaded.errors.extend(collected.errors)


def ingest_with_progress(pipeline: Pipeline, articles: Sequence[Article]) -> IngestReport:
    if len(articles) < _PROGRESS_FROM or not is_terminal():
        return pipeline.ingest(articles)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("ingest", total=len(articles))
        return pipeline.ingest(articles, progress=lambda n: bar.advance(task, n))
