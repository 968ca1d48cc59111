"""What a webhook subscription is, and the checks its fields pass before anything is stored.

Pure functions: the routes and the CLI share them, so both refuse the same mistakes with the
same words (docs/webhooks.md, "Managing webhooks").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rtk_sessions.kit.errors import BadRequest

# The SDK's nine literals, in its order. Only the first seven we can emit are ever sent; a
# subscription may still name recording and livestreaming events (nothing records or streams
# here, so they never fire), because the SDK lets a client ask for them.
EVENTS = (
    "meeting.started",
    "meeting.ended",
    "meeting.participantJoined",
    "meeting.participantLeft",
    "meeting.chatSynced",
    "recording.statusUpdate",
    "livestreaming.statusUpdate",
    "meeting.transcript",
    "meeting.summary",
)
MAX_NAME = 256
MAX_URL = 2048
FIELDS = ("name", "url", "events", "enabled")


@dataclass(frozen=True)
class WebhookSpec:
    """The fields a client sets; everything else (id, times, failure state) is ours."""

    name: str
    url: str
    events: tuple[str, ...]
    enabled: bool


def check_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("name must be a non-empty string")
    if len(value) > MAX_NAME:
        raise BadRequest(f"name is longer than {MAX_NAME} characters")
    return value


def check_url(value: Any) -> str:
    """An absolute http(s) URL without credentials; where it points is checked at delivery,
    against the addresses its host then resolves to."""
    if not isinstance(value, str) or not value:
        raise BadRequest("url must be a non-empty string, e.g. https://example.com/hooks")
    if len(value) > MAX_URL:
        raise BadRequest(f"url is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise BadRequest("url is not a valid URL, e.g. https://example.com/hooks") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest("url must start with http:// or https:// and name a host")
    if parts.username is not None or parts.password is not None:
        raise BadRequest(
            "url must not contain a user name or password; authenticate deliveries by "
            "verifying the rtk-signature header instead"
        )
    if parts.fragment:
        raise BadRequest("url must not contain a #fragment")
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise BadRequest("url must not contain spaces or control characters")
    return value


def check_events(value: Any) -> tuple[str, ...]:
    """A non-empty list of the SDK's event names, duplicates dropped, order kept."""
    if not isinstance(value, list) or not value:
        raise BadRequest(f"events must be a non-empty list of: {', '.join(EVENTS)}")
    unknown = [e for e in value if e not in EVENTS]
    if unknown:
        shown = ", ".join(repr(e)[:80] for e in unknown[:5])
        raise BadRequest(f"events has unknown names ({shown}); use: {', '.join(EVENTS)}")
    return tuple(dict.fromkeys(value))


def check_enabled(value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadRequest("enabled must be true or false")
    return value


def _fields(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with name, url, events and enabled")
    extra = sorted(set(body) - set(FIELDS))
    if extra:
        raise BadRequest(
            f"unknown fields {', '.join(repr(k)[:40] for k in extra[:5])}; "
            f"a webhook has {', '.join(FIELDS)}"
        )
    return body


def full_spec(body: Any) -> WebhookSpec:
    """A create or replace (PUT): name, url and events required; enabled defaults to true."""
    fields = _fields(body)
    missing = [k for k in ("name", "url", "events") if k not in fields]
    if missing:
        raise BadRequest(f"missing required fields: {', '.join(missing)}")
    return WebhookSpec(
        check_name(fields["name"]),
        check_url(fields["url"]),
        check_events(fields["events"]),
        check_enabled(fields.get("enabled", True)),
    )


def patched_spec(current: WebhookSpec, body: Any) -> WebhookSpec:
    """An edit (PATCH): the fields given replace the current ones, the others stay."""
    fields = _fields(body)
    return WebhookSpec(
        check_name(fields["name"]) if "name" in fields else current.name,
        check_url(fields["url"]) if "url" in fields else current.url,
        check_events(fields["events"]) if "events" in fields else current.events,
        check_enabled(fields["enabled"]) if "enabled" in fields else current.enabled,
    )
