"""End to end over real HTTP: who may call what (docs/api-decisions.md).

401 for missing, malformed, unknown or revoked credentials and for Cloudflare's legacy key
headers; 403 for the wrong account, app or permission; 404 for an unknown app; checked in
that order. A token of one account never reads another account's sessions, whatever ids it
guesses. Tokens are made and revoked with the real CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

A, B = "acct-auth-a", "acct-auth-b"
APP_A, APP_A2, APP_B = "app-auth-a", "app-auth-a2", "app-auth-b"
SECRET_TITLE = "B board meeting: acquisition"
BEARER_HINTS = ("Authorization: Bearer", "CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY")


@dataclass(frozen=True)
class World:
    base: str
    http: httpx.Client
    tokens: dict[str, str]
    a_session: str
    b_sessions: list[str]
    b_peers: list[str]


def rtk(account: str, app: str, tail: str = "", prefix: str = "/client/v4") -> str:
    return f"{prefix}/accounts/{account}/realtime/kit/{app}/sessions{tail}"


def ingest(account: str, app: str, tail: str = "events") -> str:
    return f"/ingest/v1/accounts/{account}/apps/{app}/{tail}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


EVENTS_B = [
    {"id": "t", "type": "meeting.updated", "meeting_id": "mb", "occurred_at": "2025-05-01T08:59:00Z",
     "title": SECRET_TITLE},
    {"id": "j1", "type": "peer.joined", "meeting_id": "mb", "occurred_at": "2025-05-01T09:00:00Z",
     "peer_id": "pb1", "display_name": "B one"},
    {"id": "j2", "type": "peer.joined", "meeting_id": "mb", "occurred_at": "2025-05-01T09:01:00Z",
     "peer_id": "pb2", "display_name": "B two"},
    {"id": "l1", "type": "peer.left", "meeting_id": "mb", "occurred_at": "2025-05-01T09:30:00Z",
     "peer_id": "pb1"},
    {"id": "j3", "type": "peer.joined", "meeting_id": "mb2", "occurred_at": "2025-05-02T09:00:00Z",
     "peer_id": "pb3"},
]  # fmt: skip
EVENTS_A = [
    {"id": "j1", "type": "peer.joined", "meeting_id": "ma", "occurred_at": "2025-05-01T09:00:00Z",
     "peer_id": "pa1"},
]  # fmt: skip
TOKENS: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "a_read": (A, ("read",), None),
    "a_ingest": (A, ("ingest",), None),
    "a_admin": (A, ("admin",), None),
    "a_read_app": (A, ("read",), APP_A),
    "a_same_app_id": (A, ("read", "ingest"), APP_B),  # A's own app that bears B's app id
    "a_revoke": (A, ("read", "ingest"), None),
    "b": (B, ("read", "ingest"), APP_B),
}


@pytest.fixture(scope="module")
def world(server: Any) -> Iterator[World]:
    with ThreadPoolExecutor(3) as pool:
        futures = {
            name: pool.submit(server.token, account, *perms, app=app)
            for name, (account, perms, app) in TOKENS.items()
        }
        tokens = {name: f.result() for name, f in futures.items()}
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        for account, app, events, token in (
            (A, APP_A, EVENTS_A, tokens["a_ingest"]),
            (B, APP_B, EVENTS_B, tokens["b"]),
        ):
            resp = http.post(ingest(account, app), json=events, headers=bearer(token))
            assert resp.status_code == 200, resp.text

        def session_ids(account: str, app: str, token: str) -> list[str]:
            resp = http.get(rtk(account, app), headers=bearer(token))
            assert resp.status_code == 200, resp.text
            return [s["id"] for s in resp.json()["data"]["sessions"]]

        [a_session] = session_ids(A, APP_A, tokens["a_read"])
        b_sessions = session_ids(B, APP_B, tokens["b"])
        assert len(b_sessions) == 2
        yield World(server.base_url, http, tokens, a_session, b_sessions, ["pb1", "pb2", "pb3"])


def assert_denied(resp: httpx.Response, status: int, *needles: str) -> str:
    """401/403: `error.code` is the HTTP status, `errors[].code` is Cloudflare's 10000."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    message = body["error"]["message"]
    assert body == {
        "success": False,
        "error": {"code": status, "message": message},
        "errors": [{"code": 10000, "message": message}],
    }, body
    for needle in needles:
        assert needle in message, (needle, message)
    return str(message)


def assert_not_found(resp: httpx.Response, *needles: str) -> None:
    assert resp.status_code == 404, resp.text
    body = resp.json()
    message = body["error"]["message"]
    assert body == {
        "success": False,
        "error": {"code": 404, "message": message},
        "errors": [{"code": 404, "message": message}],
    }, body
    for needle in needles:
        assert needle in message, (needle, message)


Call = Callable[[World, dict[str, str]], httpx.Response]


def _get(path: Callable[[World], str], **params: Any) -> Call:
    return lambda w, headers: w.http.get(path(w), headers=headers, params=params)


def _post_events(account: str, app: str) -> Call:
    return lambda w, headers: w.http.post(ingest(account, app), json=[], headers=headers)


# Every authenticated route of account A's app APP_A, with real ids.
A_ROUTES: dict[str, Call] = {
    "list": _get(lambda w: rtk(A, APP_A)),
    "list (short prefix)": _get(lambda w: rtk(A, APP_A, prefix="")),
    "detail": _get(lambda w: rtk(A, APP_A, f"/{w.a_session}")),
    "participants": _get(lambda w: rtk(A, APP_A, f"/{w.a_session}/participants")),
    "participant": _get(lambda w: rtk(A, APP_A, f"/{w.a_session}/participants/pa1")),
    "ingest events": _post_events(A, APP_A),
    "ingest pending": _get(lambda w: ingest(A, APP_A, "pending")),
}
READ_ROUTES = [name for name in A_ROUTES if not name.startswith("ingest")]
INGEST_ROUTES = [name for name in A_ROUTES if name.startswith("ingest")]


def test_healthz_and_openapi_need_no_token(world: World) -> None:
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"X-Auth-Key": "k"}):
        health = world.http.get("/healthz", headers=headers)
        assert health.status_code == 200, health.text
        assert health.json() == {"status": "ok", "db": "ok", "jobs": "ok"}
        spec = world.http.get("/openapi.json", headers=headers)
        assert spec.status_code == 200, spec.text
        paths = spec.json()["paths"]
        assert "/ingest/v1/accounts/{account_id}/apps/{app_id}/events" in paths
        assert "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/sessions" in paths


def test_the_right_token_reaches_every_route(world: World) -> None:
    for name, call in A_ROUTES.items():
        token = world.tokens["a_ingest" if name in INGEST_ROUTES else "a_read"]
        resp = call(world, bearer(token))
        assert resp.status_code == 200, (name, resp.text)
        assert resp.json()["success"] is True
    # The scheme is case-insensitive (RFC 7235); admin includes read.
    for name in READ_ROUTES:
        lower = A_ROUTES[name](world, {"Authorization": f"bearer {world.tokens['a_read']}"})
        assert lower.status_code == 200, (name, lower.text)
        admin = A_ROUTES[name](world, bearer(world.tokens["a_admin"]))
        assert admin.status_code == 200, (name, admin.text)


BAD_CREDENTIALS: dict[str, Callable[[dict[str, str]], dict[str, str]]] = {
    "missing": lambda t: {},
    "empty header": lambda t: {"Authorization": ""},
    "scheme only": lambda t: {"Authorization": "Bearer"},
    "prefix only": lambda t: {"Authorization": "Bearer rtk_"},
    "basic": lambda t: {"Authorization": "Basic dXNlcjpwYXNz"},
    "no scheme": lambda t: {"Authorization": t["a_read"]},
    "other scheme": lambda t: {"Authorization": f"Token {t['a_read']}"},
    "not an rtk token": lambda t: {"Authorization": "Bearer abcdefghijklmnopqrstuvwxyz0123456789"},
    "short token id": lambda t: {"Authorization": "Bearer rtk_abc_secret"},
    "unknown token": lambda t: {"Authorization": "Bearer rtk_0123456789abcdef_secret"},
    "wrong secret": lambda t: {"Authorization": f"Bearer {t['a_read'][:21]}{'x' * 43}"},
}


@pytest.mark.parametrize("route", list(A_ROUTES))
@pytest.mark.parametrize("credentials", list(BAD_CREDENTIALS))
def test_missing_malformed_or_unknown_credentials_are_401(
    world: World, route: str, credentials: str
) -> None:
    resp = A_ROUTES[route](world, BAD_CREDENTIALS[credentials](world.tokens))
    message = assert_denied(resp, 401)
    if credentials not in ("unknown token", "wrong secret"):
        for hint in BEARER_HINTS:
            assert hint in message, (hint, message)


def test_every_401_names_the_only_accepted_scheme(world: World) -> None:
    """docs/api-decisions.md: the 401 message says only `Authorization: Bearer` is accepted and that
    CLOUDFLARE_EMAIL/CLOUDFLARE_API_KEY take precedence; unknown tokens included."""
    for credentials in ("unknown token", "wrong secret"):
        resp = A_ROUTES["list"](world, BAD_CREDENTIALS[credentials](world.tokens))
        assert_denied(resp, 401, *BEARER_HINTS)


LEGACY_HEADERS = {
    "email and key": {"X-Auth-Email": "me@example.com", "X-Auth-Key": "0123456789abcdef"},
    "key only": {"X-Auth-Key": "0123456789abcdef"},
    "user service key": {"X-Auth-User-Service-Key": "v1.0-abc"},
}


@pytest.mark.parametrize("legacy", list(LEGACY_HEADERS))
@pytest.mark.parametrize("with_bearer", [False, True], ids=["alone", "beside a valid bearer"])
def test_cloudflare_key_headers_are_401_with_a_hint(
    world: World, legacy: str, with_bearer: bool
) -> None:
    for route in ("list", "ingest events"):
        token = world.tokens["a_ingest" if route.startswith("ingest") else "a_read"]
        headers = {**LEGACY_HEADERS[legacy], **(bearer(token) if with_bearer else {})}
        message = assert_denied(A_ROUTES[route](world, headers), 401, *BEARER_HINTS)
        assert "X-Auth-" in message


def test_a_revoked_token_is_401(world: World, server: Any) -> None:
    token = world.tokens["a_revoke"]
    assert A_ROUTES["list"](world, bearer(token)).status_code == 200
    assert A_ROUTES["ingest events"](world, bearer(token)).status_code == 200
    server.cli("token", "revoke", token)
    for route in A_ROUTES:
        assert_denied(A_ROUTES[route](world, bearer(token)), 401, "revoked")


@pytest.mark.parametrize(
    ("token", "routes", "needle"),
    [
        ("b", READ_ROUTES, f"does not belong to account {A}"),
        ("b", INGEST_ROUTES, f"does not belong to account {A}"),
        ("a_read", INGEST_ROUTES, "lacks the `ingest` permission"),
        ("a_admin", INGEST_ROUTES, "lacks the `ingest` permission"),
        ("a_ingest", READ_ROUTES, "lacks the `read` permission"),
    ],
    ids=[
        "other account read",
        "other account ingest",
        "read on ingest",
        "admin on ingest",
        "ingest on read",
    ],
)
def test_wrong_account_or_permission_is_403(
    world: World, token: str, routes: list[str], needle: str
) -> None:
    for route in routes:
        assert_denied(A_ROUTES[route](world, bearer(world.tokens[token])), 403, needle)


def test_an_app_limited_token_is_403_on_another_app(world: World) -> None:
    read, both = world.tokens["a_read_app"], world.tokens["a_same_app_id"]
    for prefix in ("/client/v4", ""):
        resp = world.http.get(rtk(A, APP_A2, prefix=prefix), headers=bearer(read))
        assert_denied(resp, 403, f"limited to app {APP_A}")
    resp = world.http.get(rtk(A, APP_B, f"/{world.a_session}"), headers=bearer(read))
    assert_denied(resp, 403, f"limited to app {APP_A}")
    for call in (_post_events(A, APP_A2), _get(lambda w: ingest(A, APP_A2, "pending"))):
        assert_denied(call(world, bearer(both)), 403, f"limited to app {APP_B}")
    # ...and the refused post did not create the app.
    assert_not_found(world.http.get(rtk(A, APP_A2), headers=bearer(world.tokens["a_read"])))


def test_an_unknown_app_is_404_for_an_account_wide_read_token(world: World) -> None:
    for prefix in ("/client/v4", ""):
        for tail in ("", f"/{world.a_session}", f"/{world.a_session}/participants"):
            url = rtk(A, "no-such-app", tail, prefix)
            resp = world.http.get(url, headers=bearer(world.tokens["a_read"]))
            assert_not_found(resp, "No app found with id no-such-app")


def test_checks_run_in_the_order_401_then_403_then_404(world: World) -> None:
    t = world.tokens
    unknown = rtk(B, "no-such-app", "/not-a-uuid")
    bad = {"Authorization": "Bearer rtk_0123456789abcdef_secret"}
    assert_denied(world.http.get(unknown, headers=bad), 401)
    assert_denied(world.http.get(unknown, headers={}), 401)
    assert_denied(world.http.get(unknown, headers=bearer(t["a_read"])), 403)
    assert_denied(world.http.get(rtk(A, "no-such-app"), headers=bearer(t["a_ingest"])), 403)
    assert_denied(world.http.get(rtk(A, "no-such-app"), headers=bearer(t["a_read_app"])), 403)
    assert_not_found(world.http.get(rtk(A, "no-such-app"), headers=bearer(t["a_read"])))
    assert_not_found(
        world.http.get(rtk(A, APP_A, "/not-a-uuid"), headers=bearer(t["a_read"])),
        "No session found with id not-a-uuid",
    )


BAD_REQUESTS: dict[str, Callable[[World, dict[str, str]], httpx.Response]] = {
    "sessions query": _get(lambda w: rtk(A, APP_A), sort_by="nope"),
    "sessions paging (short prefix)": _get(lambda w: rtk(A, APP_A, prefix=""), per_page="0"),
    "participants query": _get(lambda w: rtk(A, APP_A, f"/{w.a_session}/participants"),
                               view="nope"),
    "detail flag": _get(lambda w: rtk(A, APP_A, f"/{w.a_session}"),
                        include_breakout_rooms="maybe"),
    "pending limit": _get(lambda w: ingest(A, APP_A, "pending"), limit="0"),
    "malformed JSON": lambda w, h: w.http.post(
        ingest(A, APP_A), content=b"{not json", headers={**h, "Content-Type": "application/json"}
    ),
    "unsupported type": lambda w, h: w.http.post(
        ingest(A, APP_A), content=b"[]", headers={**h, "Content-Type": "text/plain"}
    ),
}  # fmt: skip


@pytest.mark.parametrize("request_", list(BAD_REQUESTS))
def test_auth_comes_before_validating_the_request(world: World, request_: str) -> None:
    """An unauthenticated or unauthorized caller gets 401/403, never a 400 or 415."""
    call = BAD_REQUESTS[request_]
    is_ingest = request_ in ("pending limit", "malformed JSON", "unsupported type")
    right, wrong = ("a_ingest", "a_read") if is_ingest else ("a_read", "a_ingest")
    assert call(world, bearer(world.tokens[right])).status_code in (400, 415)  # really invalid
    assert_denied(call(world, {}), 401)
    assert_denied(call(world, bearer(world.tokens[wrong])), 403)
    assert_denied(call(world, bearer(world.tokens["b"])), 403)


def _stable(value: Any) -> Any:
    """The body without what moves with the clock (LIVE figures, `updated_at`)."""
    if isinstance(value, dict):
        moving = ("updated_at", "minutes_consumed", "duration")
        return {k: _stable(v) for k, v in value.items() if k not in moving}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def test_both_path_prefixes_serve_the_same_sessions(world: World) -> None:
    headers = bearer(world.tokens["a_read"])
    for tail in ("", f"/{world.a_session}", f"/{world.a_session}/participants"):
        long = world.http.get(rtk(A, APP_A, tail), headers=headers)
        short = world.http.get(rtk(A, APP_A, tail, prefix=""), headers=headers)
        assert long.status_code == short.status_code == 200, (long.text, short.text)
        assert _stable(long.json()) == _stable(short.json())
    assert world.a_session in long.text or "pa1" in long.text


def _b_routes(w: World) -> list[tuple[str, dict[str, Any]]]:
    """Every read URL of B's app with B's real session and peer ids."""
    urls: list[tuple[str, dict[str, Any]]] = [(rtk(B, APP_B), {}), (rtk(B, APP_B), {"search": "B"})]
    for sid in w.b_sessions:
        urls += [
            (rtk(B, APP_B, f"/{sid}"), {}),
            (rtk(B, APP_B, f"/{sid}"), {"include_breakout_rooms": "true"}),
            (rtk(B, APP_B, f"/{sid}/participants"), {}),
            (rtk(B, APP_B, f"/{sid}/participants"), {"view": "consolidated"}),
            *((rtk(B, APP_B, f"/{sid}/participants/{peer}"), {}) for peer in w.b_peers),
        ]
    return urls + [(url.removeprefix("/client/v4"), params) for url, params in urls]


def test_a_token_of_account_a_never_reads_account_b(world: World) -> None:
    t = world.tokens
    b_read = bearer(t["b"])
    assert SECRET_TITLE in world.http.get(rtk(B, APP_B), headers=b_read).text  # B sees it
    for name in ("a_read", "a_admin", "a_read_app", "a_same_app_id"):
        for url, params in _b_routes(world):
            resp = world.http.get(url, params=params, headers=bearer(t[name]))
            assert_denied(resp, 403, f"does not belong to account {B}")
            assert SECRET_TITLE not in resp.text and "pb1" not in resp.text
    # With its own account id in the path it only ever sees its own (empty) app of that name.
    mine = bearer(t["a_same_app_id"])
    listing = world.http.get(rtk(A, APP_B), headers=mine)
    assert listing.status_code == 200, listing.text
    assert listing.json()["data"]["sessions"] == [] and SECRET_TITLE not in listing.text
    for sid in world.b_sessions:
        for tail in (f"/{sid}", f"/{sid}/participants", f"/{sid}/participants/pb1"):
            for headers in (mine, bearer(t["a_read"])):
                resp = world.http.get(rtk(A, APP_B, tail), headers=headers)
                assert_not_found(resp, "No session found with id")
                assert SECRET_TITLE not in resp.text
        resp = world.http.get(rtk(A, APP_A, f"/{sid}"), headers=bearer(t["a_read"]))
        assert_not_found(resp, f"No session found with id {sid}")


def test_a_token_of_account_a_never_writes_to_account_b(world: World) -> None:
    t = world.tokens
    before = world.http.get(rtk(B, APP_B), headers=bearer(t["b"])).json()["data"]
    intruder = [{"id": "x1", "type": "meeting.updated", "meeting_id": "mb",
                 "occurred_at": "2025-05-01T08:59:30Z", "title": "pwned"}]  # fmt: skip
    for name in ("a_ingest", "a_same_app_id"):
        resp = world.http.post(ingest(B, APP_B), json=intruder, headers=bearer(t[name]))
        assert_denied(resp, 403, f"does not belong to account {B}")
        pending = world.http.get(ingest(B, APP_B, "pending"), headers=bearer(t[name]))
        assert_denied(pending, 403, f"does not belong to account {B}")
    after = world.http.get(rtk(B, APP_B), headers=bearer(t["b"])).json()["data"]
    assert _stable(after) == _stable(before)
    # B's own post of the same id is new: nothing of A's attempts was stored.
    resp = world.http.post(ingest(B, APP_B), json=intruder, headers=bearer(t["b"]))
    assert resp.status_code == 200 and resp.json()["data"]["accepted"] == 1, resp.text
