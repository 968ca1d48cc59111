"""Search ignores case for all of Unicode, the same way on SQLite and PostgreSQL: events in over
HTTP to a real server, read back through the official SDK (docs/api-decisions.md, search)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cloudflare import Cloudflare

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-search"
T0 = "2026-03-02T10:{:02d}:00.000Z"
TITLES = {
    "nunez": "Réunion Ñúñez",
    "strasse": "STRASSE planning",
    "strasse2": "Straße review",
    "percent": "50% off_sale",
    "decoy": "500 offers offXsale",
    "ascii": "Weekly SYNC",
}
PEOPLE = {  # peer id: (display name, user id)
    "p-alice": ("Alice Ñúñez", None),
    "p-bob": ("Bob", "U-Bob"),
    "p-unal": ("Ünal Straße", "usr-ÜNAL"),
    "p-under": ("x_y", None),
    "p-decoy": ("xay 100 percent", None),
}


def _events(prefix: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for n, (key, title) in enumerate(TITLES.items()):
        meeting = f"{prefix}-{key}"
        events.append(
            {
                "id": f"t-{key}",
                "type": "meeting.updated",
                "meeting_id": meeting,
                "occurred_at": T0.format(n),
                "title": title,
            }
        )
        peers = PEOPLE if key == "nunez" else {f"p-{key}": ("Someone", None)}
        for peer, (name, user) in peers.items():
            join = {
                "id": f"j-{peer}",
                "type": "peer.joined",
                "meeting_id": meeting,
                "occurred_at": T0.format(n + 1),
                "peer_id": peer,
                "display_name": name,
            }
            if user:
                join["user_id"] = user
            events.append(join)
    return events


@pytest.fixture(scope="module")
def app(server: Any) -> Iterator[str]:
    app_id = f"app-{uuid.uuid4().hex[:8]}"
    token = server.token(ACCOUNT, "ingest", app=app_id)
    url = f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app_id}/events"
    resp = httpx.post(
        url, json=_events("Mtg"), headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert resp.status_code == 200, resp.text
    yield app_id


@pytest.fixture(scope="module")
def client(server: Any, app: str) -> Cloudflare:
    token = server.token(ACCOUNT, "read", app=app)
    return Cloudflare(
        api_token=token, base_url=f"{server.base_url}/client/v4", _strict_response_validation=True
    )


def test_session_search_folds_unicode_case(client: Cloudflare, app: str) -> None:
    def titles(term: str) -> set[str]:
        resp = client.realtime_kit.sessions.get_sessions(app, account_id=ACCOUNT, search=term)
        return {s.meeting_display_name for s in resp.data.sessions}

    nunez, strasse = {TITLES["nunez"]}, {TITLES["strasse"], TITLES["strasse2"]}
    for term in ("ñúñez", "ÑÚÑEZ", "Ñúñez", "N\u0303u\u0301n\u0303ez", "RÉUNION ñ", "Ñú", "ñ"):
        assert titles(term) == nunez, term  # 1 and 2 characters go the scanning way
    for term in ("straße", "STRASSE", "Strasse", "ss", "ß"):
        assert titles(term) == strasse, term  # ß folds to ss (docs/api-decisions.md)
    assert titles("ßE P") == {TITLES["strasse"]}
    assert titles("weekly sync") == titles("yNC") == titles("WEEKLY") == {TITLES["ascii"]}
    assert titles("mtg-nunez") == titles("MTG-NUNEZ") == nunez  # the meeting id
    # `%` and `_` are literal characters, never wildcards
    assert titles("0% OFF") == titles("off_") == titles("%") == titles("_") == {TITLES["percent"]}
    assert titles("Ñúñez review") == set()


def test_participant_search_folds_unicode_case(client: Cloudflare, app: str) -> None:
    sessions = client.realtime_kit.sessions
    listed = sessions.get_sessions(app, account_id=ACCOUNT, search="Réunion").data.sessions
    assert len(listed) == 1

    def peers(term: str) -> set[str]:
        resp = sessions.get_session_participants(
            listed[0].id, account_id=ACCOUNT, app_id=app, search=term
        )
        return {p.id for p in resp.data.participants}

    for term in ("ñúñez", "ÑÚÑEZ", "Ñúñez", "alice ñ", "ñ"):
        assert peers(term) == {"p-alice"}, term
    assert peers("STRASSE") == peers("ünal") == peers("usr-ünal") == peers("ÜN") == {"p-unal"}
    assert peers("u-bob") == peers("BOB") == {"p-bob"}
    assert peers("P-ALICE") == {"p-alice"}  # the peer id
    assert peers("_") == peers("x_") == {"p-under"}
    assert peers("%") == set()
