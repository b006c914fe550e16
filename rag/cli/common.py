"""What every command shares: building the pipeline from settings, turning RagError into exit 1."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import click

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

F = TypeVar("F", bound=Callable[..., object])


def get_pipeline() -> Pipeline:
    from pydantic import ValidationError

    from rag.config import Settings
    from rag.pipeline import Pipeline

    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "RAG_" + str(first["loc"][0]).upper()
        raise click.ClickException(f"{name}: {first['msg']}") from None
    return Pipeline.from_settings(settings)


@contextmanager
def user_errors() -> Iterator[None]:
    """Domain errors become one clear line and exit status 1, never a traceback."""
    from rag.errors import RagError

    try:
        yield
    except RagError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        from rag.store import is_connection_error

        if not is_connection_error(exc):
            raise
        raise click.ClickException(
            f"the Chroma server stopped answering ({type(exc).__name__}: {str(exc)[:200]}); start it again and "
            "re-run the command: what was written is kept and unchanged articles are skipped") from None


def date_option(name: str, help_text: str) -> Callable[[F], F]:
    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        from datetime import date

        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None

    return click.option(name, callback=check, metavar="YYYY-MM-DD", help=help_text)


def is_terminal() -> bool:
    return sys.stderr.isatty()


def as_of_option(fn: F) -> F:
    """--as-of: when the question is asked; nothing published after it is used."""
    def check(ctx: click.Context, param: click.Parameter, value: str | None):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        from rag.timecues import parse_as_of

        try:
            return parse_as_of(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return click.option("--as-of", "as_of", callback=check, metavar="YYYY-MM-DD[THH:MM]",
                        help="Answer as of this date (default: now): later articles are not used, and "
                             "'this week' or 'latest' mean the days before it.")(fn)
