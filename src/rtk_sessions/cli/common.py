"""What every command shares: the Typer apps, settings, the database line, user errors,
progress on a terminal."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy.engine import make_url

from rtk_sessions.config import Settings, SettingsError

app = typer.Typer(
    help="rtk-sessions: serve the Sessions API, run jobs, manage tokens, load and export data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")

T = TypeVar("T")
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (env RTK_DATA_DIR) [./data].")
]
USER_ERROR = 2  # the exit status of a mistake the user can fix


class UserError(Exception):
    """A mistake the user can fix: printed as one line (plus details), exit status 2."""

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class _Where:
    """The database the running command uses, for messages that must name it."""

    database = ""
    hint = ""


def settings(data_dir: Path | None, **overrides: Any) -> Settings:
    try:
        return Settings.from_env(data_dir=data_dir, **overrides)
    except SettingsError as exc:
        raise typer.BadParameter(str(exc)) from exc


def data_settings(data_dir: Path | None, *, announce: bool = True, **overrides: Any) -> Settings:
    """Settings of a command that touches data; says on stderr which database that is (a
    server says it in its log instead, in the log's format)."""
    s = settings(data_dir, **overrides)
    _Where.database = describe_database(s)
    _Where.hint = "RTK_DATABASE_URL" if s.database_url else "--data-dir or RTK_DATA_DIR"
    if announce:
        typer.echo(f"database: {_Where.database}", err=True)
    return s


def describe_database(s: Settings) -> str:
    """The database in words a user recognises, never with its password."""
    url = make_url(s.effective_database_url)
    if url.get_backend_name() == "sqlite":
        return f"SQLite {url.database}"
    return url.render_as_string(hide_password=True)


def where() -> str:
    return _Where.database


def database_setting() -> str:
    """What chooses the database: RTK_DATABASE_URL when set, else the data directory."""
    return _Where.hint


def fix_hint() -> str:
    """How to point the command at another database."""
    if _Where.hint.startswith("--"):
        return "pass --data-dir or set RTK_DATA_DIR to use another"
    return "set RTK_DATABASE_URL to use another"


def not_found_hint() -> str:
    """Appended to "not found" errors: where we looked, and how to look elsewhere."""
    if not _Where.database:
        return ""
    return f" (looked in {_Where.database}; {fix_hint()})"


def run(factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(factory())  # type: ignore[arg-type]


def _console() -> Console:
    return Console(stderr=True)


@contextlib.contextmanager
def progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr while the block runs, only when stderr is a terminal; yields
    `advance(n)`. Without a total, a spinner."""
    console = _console()
    columns: list[Any] = [TextColumn(label)]
    if total is None:
        columns = [SpinnerColumn(), *columns, TimeElapsedColumn()]
    else:
        columns += [BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(
        *columns, console=console, disable=not console.is_terminal, transient=total is None
    ) as bar:
        task: TaskID = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)
