"""`rag feeds add|list|remove` and `rag watch`: keep the corpus current from RSS/Atom feeds."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import click

from rag.cli.common import get_pipeline, json_safe, say, user_errors

ALLOW_PRIVATE_HELP = ("Also fetch loopback and private (RFC 1918) addresses, as RAG_FETCH_ALLOW_PRIVATE=true does "
                      "(for a news site on your own network).")


def fetch_settings(pipeline, allow_private: bool):  # type: ignore[no-untyped-def]
    """The pipeline's settings, with --allow-private applied."""
    s = pipeline.settings
    return s.model_copy(update={"fetch_allow_private": True}) if allow_private else s

if TYPE_CHECKING:
    from rag.feeds import FeedResult, FeedStore
    from rag.pipeline import Pipeline


def _store(pipeline: Pipeline) -> FeedStore:
    from rag.feeds import FeedStore

    return FeedStore.for_pipeline(pipeline)


@click.group()
def feeds() -> None:
    """The RSS and Atom feeds `rag watch` polls (kept next to the store).

    \b
    Example:
      rag feeds add https://example.org/news/rss.xml
      rag feeds list
      rag watch --once
    """


@feeds.command("add")
@click.argument("urls", nargs=-1, required=True)
@click.option("--allow-private", is_flag=True, help=ALLOW_PRIVATE_HELP)
def add(urls: tuple[str, ...], allow_private: bool) -> None:
    """Watch feeds (http or https URLs of RSS or Atom feeds, without credentials in them)."""
    from rag.addresses import AddressPolicy

    pipeline = get_pipeline()
    s = fetch_settings(pipeline, allow_private)
    with user_errors():
        store = _store(pipeline)
        for url in urls:
            state, created = store.add(url, AddressPolicy.from_settings(s), max_feeds=s.feeds_max)
            say(f"{'added' if created else 'already watched'}: {state.url}")
    say("run `rag watch --once` to fetch them now, or `rag watch` to keep polling")


@feeds.command("remove")
@click.argument("urls", nargs=-1, required=True)
def remove(urls: tuple[str, ...]) -> None:
    """Stop watching feeds. Articles already ingested stay."""
    pipeline = get_pipeline()
    with user_errors():
        store = _store(pipeline)
        for url in urls:
            store.remove(url)
            say(f"removed: {url.strip()}")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
def list_feeds(as_json: bool) -> None:
    """Watched feeds with their last check and last error."""
    pipeline = get_pipeline()
    with user_errors():
        states = _store(pipeline).list()
    if as_json:
        say(json_safe(json.dumps([s.public() for s in states], ensure_ascii=False, indent=2)))
        return
    if not states:
        say("no feeds; add one with `rag feeds add URL`")
        return
    for s in states:
        checked = f"checked {s.last_checked} ({s.last_status})" if s.last_checked else "not checked yet"
        say(f"{s.url}  {s.title or ''}  {len(s.seen)} entries seen, {checked}")
        if s.last_error:
            say(f"    last error: {s.last_error}")


@click.command()
@click.option("--every", default="15m", show_default=True, metavar="DURATION",
              help="Time between passes: 30s, 15m, 1h.")
@click.option("--once", is_flag=True, help="One pass, then exit (status 1 if anything failed).")
@click.option("--feed", "only", multiple=True, metavar="URL", help="Poll only this watched feed (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Each pass's report as one JSON line on stdout.")
@click.option("--allow-private", is_flag=True, help=ALLOW_PRIVATE_HELP)
def watch(every: str, once: bool, only: tuple[str, ...], as_json: bool, allow_private: bool) -> None:
    """Poll the watched feeds and ingest new and changed articles, until stopped.

    Each pass sends conditional GETs (an unchanged feed costs one 304), fetches each new or changed
    entry's page politely (robots.txt, per-host delay and limit, retries with backoff) and prints
    one line per feed, every problem with its reason, and a summary.

    \b
    Example:
      rag feeds add https://example.org/news/rss.xml
      rag watch --every 15m
      rag watch --once
    """
    from rag.feeds import parse_every, process_fetcher, run_pass, watcher_id

    try:
        interval = parse_every(every)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--every") from None
    pipeline = get_pipeline()
    s = fetch_settings(pipeline, allow_private)
    holder = watcher_id()
    with user_errors():
        store = _store(pipeline)
        if not store.list():
            raise click.ClickException("no feeds to watch; add one with `rag feeds add URL`")
    failed_any = False
    shown: dict[str, int] = {}

    def progress(result: FeedResult) -> None:
        if result.status != "failed":  # a failed feed is its error line, printed next
            say(result.line(), err=True)
        for problem in result.problems:
            say(problem.line(), err=True)
        shown[result.url] = len(result.problems)

    fetcher = process_fetcher(s, robots_cache=store)
    try:
        while True:
            started = time.monotonic()
            shown.clear()
            try:
                with user_errors():
                    report = run_pass(pipeline, store, fetcher, max_entries=s.feed_max_entries,
                                      workers=s.fetch_workers, urls=list(only) or None, holder=holder,
                                      progress=progress, budget_s=s.feed_pass_budget_s, max_feeds=s.feeds_max)
            except click.ClickException as exc:
                if once:
                    raise
                # A watcher outlives a store that is down for a while: say so, try again next pass.
                say(f"error: this pass stopped: {exc.format_message()}; next pass in {every}", err=True)
                failed_any = True
                time.sleep(max(0.0, interval - (time.monotonic() - started)))
                continue
            for feed in report.feeds:  # problems found while writing, after the progress line
                for problem in feed.problems[shown.get(feed.url, 0):]:
                    say(problem.line(), err=True)
            if as_json:
                say(json_safe(json.dumps(report.as_dict(), ensure_ascii=False)))
            else:
                say(report.summary())
            failed_any = failed_any or report.failed > 0
            if once:
                break
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        say("stopped", err=True)
        return
    if failed_any:
        raise SystemExit(1)
