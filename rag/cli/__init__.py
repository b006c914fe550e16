"""The `rag` command. Groups are nouns, subcommands verbs; each group lives in its own module.

Imports stay lazy: `rag ask` should not pay for what `rag eval` needs.
"""

from __future__ import annotations

import click

from rag.cli.articles import articles
from rag.cli.ask import ask, search
from rag.cli.chat import chat
from rag.cli.evaluate import eval_group
from rag.cli.feeds import feeds, watch
from rag.cli.ingest import ingest
from rag.cli.serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rag-news")
def cli() -> None:
    """Answer questions about news articles with verified, verbatim quoted citations.

    \b
    Example:
      rag ingest seeds/
      rag ask "What did Belarus offer Astrakhan?"
    """


cli.add_command(ingest)
cli.add_command(ask)
cli.add_command(search)
cli.add_command(chat)
cli.add_command(articles)
cli.add_command(eval_group)
cli.add_command(serve)
cli.add_command(feeds)
cli.add_command(watch)


def main() -> None:
    cli()
