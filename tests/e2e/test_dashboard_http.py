"""The dashboard's sign-in, cookie, CSRF and permission rules, and its statements per page,
against a real server (both databases) with the demo data, driven over HTTP as a browser
would. The pages themselves, in a real browser, are tests/e2e/test_dashboard_browser.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dashboard import ACCOUNT, Demo, browser_like, csrf_of, demo_server, signed_in
from files_scenario import sdk
from support import running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Demo]:
    data_dir: Path = tmp_path_factory.mktemp("dashboard-http")
    with demo_server(data_dir, database_url, RTK_TEST_COUNT_TRANSACTIONS="1") as found:
        yield found


def _sessions(demo: Demo) -> list[str]:
    """Session ids of the demo app, newest first (the SDK's list)."""
    page = sdk(demo.server, demo.admin).realtime_kit.sessions.get_sessions(
        demo.app, account_id=ACCOUNT, per_page=50
    )
    return [s.id for s in page.data.sessions]


def test_the_sign_in_cookie_is_http_only_strict_and_holds_no_token(demo: Demo) -> None:
    client = browser_like(demo.server.base_url)
    answer = client.post("/ui/sign-in", data={"token": demo.reader, "next": "/ui/"})
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/"
    cookie = answer.headers["set-cookie"]
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower() and "path=/ui" in cookie.lower()
    assert "secure" not in attributes  # plain http on loopback; https below
    value = cookie.split(";")[0].split("=", 1)[1]
    secret = demo.reader.split("_", 2)[2]  # rtk_<id>_<secret>; the secret may hold "_" too
    assert demo.reader not in cookie and secret not in value and value not in demo.reader
    # The cookie alone opens the pages; the token-scoped app is where / leads.
    assert client.get("/ui/").headers["location"] == f"/ui/apps/{demo.app}/"
    assert client.get(demo.page("/")).status_code == 200


def test_the_cookie_is_secure_when_served_over_https(tmp_path: Path, database_url: str) -> None:
    with running_server(tmp_path, database_url, RTK_PUBLIC_URL="https://rtk.example") as srv:
        token = srv.token("acct-https", "read", app="https-app")
        answer = browser_like(srv.base_url).post("/ui/sign-in", data={"token": token})
    assert answer.status_code == 303
    assert "secure" in {a.strip().lower() for a in answer.headers["set-cookie"].split(";")}


def test_a_cross_site_form_post_is_refused_and_changes_nothing(demo: Demo) -> None:
    client = signed_in(demo.server.base_url, demo.admin)
    csrf = csrf_of(client.get(demo.page("/webhooks")).text)
    form = {"csrf_token": csrf, "name": "from elsewhere", "url": "https://hooks.example/x",
            "event:meeting.ended": "on", "enabled": "on"}  # fmt: skip
    url = demo.page("/webhooks")

    # Another site's page posting the form: its Origin names that site.
    evil = client.post(url, data=form, headers={"origin": "https://evil.example"})
    assert evil.status_code == 403 and "another site" in evil.text
    # Same site, but without the sign-in's secret (a form the attacker built blind).
    blind = client.post(url, data={**form, "csrf_token": "guessed"})
    assert blind.status_code == 403 and "security token" in blind.text
    # The browser sends no SameSite=Strict cookie with another site's request: not signed in.
    cookieless = browser_like(demo.server.base_url).post(url, data=form)
    assert cookieless.status_code == 303 and cookieless.headers["location"].startswith("/ui/sign-in")
    hooks = sdk(demo.server, demo.admin).realtime_kit.webhooks
    assert [w.name for w in hooks.get_webhooks(demo.app, account_id=ACCOUNT).data] == []

    made = client.post(url, data=form)
    assert made.status_code == 303
    listed = hooks.get_webhooks(demo.app, account_id=ACCOUNT).data
    assert [(w.name, list(w.events), w.enabled) for w in listed] == [
        ("from elsewhere", ["meeting.ended"], True)
    ]


def test_a_read_token_looks_but_cannot_act(demo: Demo) -> None:
    client = signed_in(demo.server.base_url, demo.reader)
    session = _sessions(demo)[0]
    page = client.get(demo.page(f"/sessions/{session}"))
    assert page.status_code == 200
    assert "generate-summary" not in page.text and "/webhooks" not in page.text
    csrf = csrf_of(page.text)
    refused = client.post(demo.page(f"/sessions/{session}/summary"), data={"csrf_token": csrf})
    assert refused.status_code == 403 and "admin" in refused.text
    assert client.get(demo.page("/webhooks")).status_code == 403
    create = client.post(demo.page("/webhooks"), data={"csrf_token": csrf, "name": "x",
                                                       "url": "https://h.example/"})  # fmt: skip
    assert create.status_code == 403
    # Nothing was started: the summary part of the page is what it was.
    again = client.get(demo.page(f"/sessions/{session}")).text
    assert _summary_part(again) == _summary_part(page.text)


def _summary_part(page: str) -> str:
    return page[page.index('<section id="summary"') : page.index('aria-labelledby="downloads')]


def test_revoking_the_token_or_signing_out_ends_the_sign_in(demo: Demo) -> None:
    token = demo.server.token(ACCOUNT, "read", app=demo.app)
    revoked = signed_in(demo.server.base_url, token)
    demo.server.cli("token", "revoke", token)
    gone = revoked.get(demo.page("/sessions"))
    assert gone.status_code == 303 and gone.headers["location"].startswith("/ui/sign-in")

    client = signed_in(demo.server.base_url, demo.reader)
    cookie = dict(client.cookies)
    csrf = csrf_of(client.get(demo.page("/")).text)
    assert client.post("/ui/sign-out", data={"csrf_token": "stale"}).status_code == 403
    out = client.post("/ui/sign-out", data={"csrf_token": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/ui/sign-in"
    assert 'rtk_dashboard=""' in out.headers["set-cookie"] or "max-age=0" in out.headers[
        "set-cookie"
    ].lower()
    replayed = browser_like(demo.server.base_url)
    replayed.cookies.update(cookie)  # the old cookie, kept by someone: it opens nothing now
    assert replayed.get(demo.page("/")).status_code == 303


def test_wrong_tokens_and_malformed_forms_get_pages_that_say_what_to_fix(demo: Demo) -> None:
    client = browser_like(demo.server.base_url)
    wrong = client.post("/ui/sign-in", data={"token": "rtk_0123456789abcdef_nope"})
    assert wrong.status_code == 401 and "not valid" in wrong.text
    assert "set-cookie" not in wrong.headers
    big = client.post("/ui/sign-in", data={"token": "x" * 100_000})
    assert big.status_code == 413
    as_json = client.post("/ui/sign-in", json={"token": demo.reader})
    assert as_json.status_code == 400 and "form" in as_json.text
    for away in ("//evil.example/", "https://evil.example/ui/", "/ui//evil.example",
                 "/ui/x\r\nSet-Cookie: a=b", "/ui/\\evil.example"):  # fmt: skip
        elsewhere = client.post("/ui/sign-in", data={"token": demo.reader, "next": away})
        assert elsewhere.headers["location"] == "/ui/", away
    back = client.post("/ui/sign-in", data={"token": demo.reader, "next": demo.page("/sessions?status=LIVE")})
    assert back.headers["location"] == demo.page("/sessions?status=LIVE")
    # Pages answer in HTML, not the API's JSON envelope, and never echo exception text.
    client = signed_in(demo.server.base_url, demo.reader)
    missing = client.get(demo.page("/sessions/00000000-0000-4000-8000-000000000000"))
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    bad_filter = client.get(demo.page("/sessions"), params={"participants": "many"})
    assert bad_filter.status_code == 400 and "participants" in bad_filter.text
    other_app = client.get("/ui/apps/some-other-app/")
    assert other_app.status_code == 403


def _statements(client: httpx.Client, path: str) -> tuple[int, int]:
    client.get(path)  # warm: the token's once-a-minute `last used` stamp, a stale report
    answer = client.get(path)
    assert answer.status_code == 200, answer.text[-1500:]
    return int(answer.headers["x-rtk-statements"]), int(answer.headers["x-rtk-transactions"])


def test_each_page_runs_a_fixed_set_of_statements_whatever_its_size(demo: Demo) -> None:
    """No N+1: a page's statements do not grow with what it shows. The same page for a small
    and a large session (peers, chat, transcript) runs the same number, in one transaction."""
    client = signed_in(demo.server.base_url, demo.admin)
    api = sdk(demo.server, demo.admin).realtime_kit.sessions
    listed = api.get_sessions(demo.app, account_id=ACCOUNT, per_page=100).data.sessions
    by_size = sorted(listed, key=lambda s: s.max_concurrent_participants)
    small, large = by_size[0].id, by_size[-1].id
    assert by_size[0].max_concurrent_participants < by_size[-1].max_concurrent_participants

    def peers(session: str) -> list[str]:
        found = api.get_session_participants(session, account_id=ACCOUNT, app_id=demo.app,
                                             per_page=100)  # fmt: skip
        return [p.id for p in found.data.participants or []]

    pairs = {
        "usage": (demo.page("/"), demo.page("/?start_date=2020-01-01&end_date=2020-12-31")),
        "sessions": (demo.page("/sessions?per_page=5"), demo.page("/sessions?per_page=100")),
        "session": (demo.page(f"/sessions/{small}"), demo.page(f"/sessions/{large}")),
        "peer": (demo.page(f"/peers/{peers(small)[0]}"), demo.page(f"/peers/{peers(large)[-1]}")),
        "webhooks": (demo.page("/webhooks"), demo.page("/webhooks")),
    }
    counts = {}
    for name, (a, b) in pairs.items():
        first, second = _statements(client, a), _statements(client, b)
        assert first == second, f"{name}: {first} vs {second} statements (N+1?)"
        counts[name] = first
    # (statements, transactions) as docs/dashboard.md states them, the sign-in check included.
    # The webhooks page reads through the webhook service, which (for the API too) opens a
    # transaction of its own after the sign-in's.
    assert counts == {"usage": (6, 1), "sessions": (3, 1), "session": (8, 1), "peer": (6, 1),
                      "webhooks": (2, 2)}, counts  # fmt: skip


def test_live_rows_are_refreshed_by_polling_the_table_alone(demo: Demo) -> None:
    client = signed_in(demo.server.base_url, demo.reader)
    full = client.get(demo.page("/sessions"), params={"status": "LIVE"})
    assert 'hx-trigger="every 5s"' in full.text and "<html" in full.text
    part = client.get(demo.page("/sessions"), params={"status": "LIVE"},
                      headers={"hx-request": "true"})  # fmt: skip
    assert part.text.lstrip().startswith('<div id="sessions-table"') and "<html" not in part.text
    rows = re.findall(r'data-session-id="([^"]+)"', part.text)
    live = sdk(demo.server, demo.reader).realtime_kit.sessions.get_sessions(
        demo.app, account_id=ACCOUNT, status="LIVE"
    )
    assert rows == [s.id for s in live.data.sessions] and rows
