"""What every command shares: building the pipeline from settings, turning RagError into exit 1."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, TypeVar

import click

from rag.errors import RagError

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
    from rag.pipeline import Pipeline

    return Pipeline.from_settings(load_settings())


@contextmanager
def user_errors() -> Iterator[None]:
    """Domain errors become one clear line and exit status 1, never a traceback."""
    try:
        yield
    except RagError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        from rag.store import is_connection_error  # loads pydantic, like the pipeline

        if not is_connection_error(exc):
            raise
        raise click.ClickException(
            f"the Chroma server stopped answering ({type(exc).__name__}: {str(exc)[:200]}); start it again and "
            "re-run the command: what was written is kept and unchanged articles are skipped") from None


def date_option(name: str, help_text: str) -> Callable[[F], F]:
    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None

    return click.option(name, callback=check, metavar="YYYY-MM-DD", help=help_text)


def is_terminal() -> bool:
    return sys.stderr.isatty()
