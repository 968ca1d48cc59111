"""`rtk-sessions`: serve, worker, token, app, ingest, import, import-rtcstats, export, demo, webhook, and upkeep
(migrate, rebuild, pending, purge). One module per command group; each calls services."""

from __future__ import annotations

import sys
from asyncio import CancelledError

import typer

from rtk_sessions.cli import (
    apps,
    demo,
    export,
    imports,
    load,
    maintenance,
    serve,
    tokens,
    webhooks,
    worker,
)
from rtk_sessions.cli.common import (
    USER_ERROR,
    UserError,
    app,
    database_setting,
    not_found_hint,
    where,
)
from rtk_sessions.cli.event_files import PartialLoad
from rtk_sessions.cli.operations import DatabaseUnusable
from rtk_sessions.kit.errors import NotFound, RtkError

__all__ = [
    "app",
    "apps",
    "demo",
    "export",
    "imports",
    "load",
    "main",
    "maintenance",
    "serve",
    "tokens",
    "webhooks",
    "worker",
]


def _fail(message: str, details: list[str], status: int = USER_ERROR) -> None:
    typer.echo(f"error: {message}", err=True)
    for line in details:
        typer.echo(f"  {line}", err=True)
    sys.exit(status)


def main() -> None:
    """The entry point: a mistake the user can fix is one line saying what to do (plus the
    list of problems, for a file), exit status 2, never a traceback."""
    from rtk_sessions.kit.private import restrict_umask

    restrict_umask()  # the data directory and everything in it: owner only (docs/security.md)
    try:
        app()
    except UserError as exc:
        _fail(exc.message, exc.details)
    except RtkError as exc:
        if exc.status >= 500:
            raise
        hint = not_found_hint() if isinstance(exc, NotFound) else ""
        _fail(exc.message + hint, [str(d.get("message")) for d in exc.details])
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        _fail(f"{exc.filename}: {exc.strerror}", [])
    except PartialLoad as exc:
        cause = "interrupted" if isinstance(exc.__cause__, CancelledError) else repr(exc.__cause__)
        _fail(f"{exc} ({cause})", [], status=1)
    except DatabaseUnusable as exc:
        _fail(f"cannot open the database ({where()}): {exc}; check {database_setting()}", [])
