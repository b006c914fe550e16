from __future__ import annotations

import click

from rag.cli.common import get_pipeline, say, user_errors


@click.group()
def articles() -> None:
    """List, show and delete ingested articles."""


@articles.command("list")
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--limit", type=click.IntRange(1, 10_000), default=100)
def list_articles(offset: int, limit: int) -> None:
    """One line per article: id, date, chunks, title."""
    pipeline = get_pipeline()
    with user_errors():
        infos = pipeline.list_articles(offset, limit)
    for info in infos:
        say(f"{info.id}\t{info.published_at or '-'}\t{info.n_chunks} chunks\t{info.language or '-'}\t{info.title}")


@articles.command("show")
@click.argument("article_id")
def show_article(article_id: str) -> None:
    """Print an article's metadata and text."""
    pipeline = get_pipeline()
    with user_errors():
        found = pipeline.get_article(article_id)
    if found is None:
        raise click.ClickException(f"no article with id {article_id!r} (see `rag articles list`)")
    info, text = found
    say(f"{info.title}\n{info.published_at or ''}\n\n{text}")


@articles.command("delete")
@click.argument("article_id")
def delete_article(article_id: str) -> None:
    """Delete an article and all its chunks."""
    pipeline = get_pipeline()
    with user_errors():
        existed = pipeline.delete_article(article_id)
    if not existed:
        raise click.ClickException(f"no article with id {article_id!r} (see `rag articles list`)")
    say(f"deleted {article_id}")
