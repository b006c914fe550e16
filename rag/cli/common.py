"""What every command shares: building the pipeline from settings, turning RagError into exit 1."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, TypeVar

import click

from rag.errors import RagError, StoreUnavailable

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.pipeline import Pipeline

F = TypeVar("F", bound=Callable[..., object])


def load_settings() -> Settings:
    """The environment's settings; a bad value is one line naming its variable."""
    # Imported here, not at the top: pydantic would slow `rag --help`.
    from pydantic import ValidationError

    from rag.config import Settings

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper()
        raise click.ClickException(f"{name if name.startswith('RAG_') else 'RAG_' + name}: {first['msg']}") from None


def get_pipeline() -> Pipeline:
    from rag.datadir import data_dir_problem
    from rag.pipeline import Pipeline

    settings = load_settings()
    problem = data_dir_problem(settings)
    if problem:
        raise click.ClickException(problem)
    return Pipeline.from_settings(settings)


@contextmanager
def user_errors() -> Iterator[None]:
    """Domain errors become one clear line and exit status 1, never a traceback."""
    try:
        yield
    except StoreUnavailable as exc:
        raise click.ClickException(_store_down(exc)) from None
    except RagError as exc:
        from rag.hygiene import redact_credentials, terminal_safe

        raise click.ClickException(redact_credentials(terminal_safe(str(exc)))) from None
    except Exception as exc:
        from rag.store import is_connection_error  # loads pydantic, like the pipeline

        if not is_connection_error(exc):
            raise
        raise click.ClickException(_store_down(exc)) from None


def _store_down(exc: BaseException) -> str:
    return (f"the Chroma server stopped answering ({str(exc)[:200]}); start it again and re-run the command: "
            "what was written is kept and unchanged articles are skipped")


def date_option(name: str, help_text: str) -> Callable[[F], F]:
    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None

    return click.option(name, callback=check, metavar="YYYY-MM-DD", help=help_text)


def say(text: str = "", **kwargs: object) -> None:
    """click.echo for anything that may hold article text: C0/C1 controls (ESC[2J, OSC 0 titles,
    OSC 8 links) are removed, piped or not; newline and tab stay; a URL's `user:password@` is
    written `***@`. The one output filter of the CLI."""
    from rag.hygiene import redact_credentials, terminal_safe

    click.echo(redact_credentials(terminal_safe(text)), **kwargs)  # type: ignore[arg-type]


def json_safe(text: str) -> str:
    """JSON for the terminal: json.dumps escapes C0 itself; C1 (and DEL) are escaped here too."""
    from rag.hygiene import escape_c1

    return escape_c1(text)


def is_terminal() -> bool:
    return sys.stderr.isatty()


def as_of_option(fn: F) -> F:
    """--as-of: when the question is asked; nothing published after it is used."""
    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
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
