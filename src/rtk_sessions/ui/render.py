"""Rendering the dashboard's templates: one Jinja environment, escaping everything it is not
told is markup, and failing loudly on a name a template misspells."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from litestar import Request, Response
from litestar.enums import MediaType

from rtk_sessions import __version__
from rtk_sessions.sessions.accounting import minutes
from rtk_sessions.ui import views

_env = Environment(
    loader=PackageLoader("rtk_sessions.ui", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(clock=views.clock, span=views.span, minutes=minutes, fig=views.figure)
_env.globals.update(version=__version__, facts=views.facts)


def is_partial(request: Request[Any, Any, Any]) -> bool:
    """An htmx request for a part of the page (polling, a form swapped in place)."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )


def html(template: str, status: int = 200, **context: Any) -> Response[str]:
    """The rendered page; never cached (it shows live figures and a CSRF secret)."""
    body = _env.get_template(template).render(**context)
    return Response(
        body,
        status_code=status,
        media_type=MediaType.HTML,
        headers={"cache-control": "no-store", "referrer-policy": "same-origin"},
    )
