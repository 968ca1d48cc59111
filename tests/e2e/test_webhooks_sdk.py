"""Webhook management through the official SDK (strict response validation) on a real server:
the six calls under both prefixes, and the 4xx cases each of them can meet."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cloudflare
import httpx
import pytest
from cloudflare import Cloudflare

from support import cli

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-hooks"
ALL_EVENTS = [
    "meeting.started",
    "meeting.ended",
    "meeting.participantJoined",
    "meeting.participantLeft",
    "meeting.chatSynced",
    "recording.statusUpdate",
    "livestreaming.statusUpdate",
    "meeting.transcript",
    "meeting.summary",
]


def sdk(server: Any, token: str, prefix: str = "/client/v4") -> Cloudflare:
    return Cloudflare(
        api_token=token, base_url=f"{server.base_url}{prefix}", _strict_response_validation=True
    )


@pytest.fixture
def admin(server: Any, app_id: str) -> Cloudflare:
    return sdk(server, server.token(ACCOUNT, "admin", app=app_id))


def _recent(when: datetime) -> bool:
    return abs(datetime.now(UTC) - when) < timedelta(minutes=2)


def test_create_get_list_edit_replace_delete(admin: Cloudflare, app_id: str) -> None:
    hooks = admin.realtime_kit.webhooks
    created = hooks.create_webhook(
        app_id,
        account_id=ACCOUNT,
        name="first",
        url="https://example.com/hooks?x=1",
        events=["meeting.started", "meeting.ended", "meeting.started"],
    ).data
    assert created.name == "first" and created.url == "https://example.com/hooks?x=1"
    assert created.events == ["meeting.started", "meeting.ended"]  # duplicate dropped
    assert created.enabled is True and _recent(created.created_at)
    assert created.updated_at == created.created_at
    uuid.UUID(created.id)

    second = hooks.create_webhook(
        app_id, account_id=ACCOUNT, name="all", url="http://127.0.0.1:9/x",
        events=ALL_EVENTS, enabled=False,
    ).data  # fmt: skip
    assert second.enabled is False and second.events == ALL_EVENTS

    listed = hooks.get_webhooks(app_id, account_id=ACCOUNT).data
    assert [w.id for w in listed] == [created.id, second.id]

    got = hooks.get_webhook_by_id(created.id, account_id=ACCOUNT, app_id=app_id).data
    assert got.model_dump() == created.model_dump()

    edited = hooks.edit_webhook(
        created.id, account_id=ACCOUNT, app_id=app_id, enabled=False, name="renamed"
    ).data
    assert (edited.name, edited.enabled) == ("renamed", False)
    assert edited.url == created.url and edited.events == created.events
    assert edited.updated_at >= created.updated_at

    replaced = hooks.replace_webhook(
        created.id, account_id=ACCOUNT, app_id=app_id, name="replaced",
        url="https://example.org/in", events=["meeting.summary"],
    ).data  # fmt: skip
    assert (replaced.name, replaced.url, replaced.events) == (
        "replaced", "https://example.org/in", ["meeting.summary"],
    )  # fmt: skip
    assert replaced.enabled is True  # PUT sets every field: enabled defaults to true
    assert replaced.created_at == created.created_at

    deleted = hooks.delete_webhook(created.id, account_id=ACCOUNT, app_id=app_id).data
    assert deleted.id == created.id and deleted.name == "replaced"
    assert [w.id for w in hooks.get_webhooks(app_id, account_id=ACCOUNT).data] == [second.id]
    with pytest.raises(cloudflare.NotFoundError):
        hooks.get_webhook_by_id(created.id, account_id=ACCOUNT, app_id=app_id)


def test_without_client_v4_prefix(server: Any, app_id: str) -> None:
    client = sdk(server, server.token(ACCOUNT, "admin", app=app_id), prefix="")
    made = client.realtime_kit.webhooks.create_webhook(
        app_id, account_id=ACCOUNT, name="bare", url="https://example.com/h",
        events=["meeting.ended"],
    ).data  # fmt: skip
    [listed] = client.realtime_kit.webhooks.get_webhooks(app_id, account_id=ACCOUNT).data
    assert listed.id == made.id


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("events", ["meeting.started", "meeting.exploded"], "unknown names"),
        ("events", [], "non-empty list"),
        ("url", "ftp://example.com/hooks", "http:// or https://"),
        ("url", "file:///etc/passwd", "http:// or https://"),
        ("url", "https://user:secret@example.com/hooks", "user name or password"),
        ("url", "https://user@example.com/hooks", "user name or password"),
        ("url", "example.com/hooks", "http:// or https://"),
        ("url", "https://example.com:99999/", "not a valid URL"),
        ("name", "", "name must be"),
    ],
)
def test_create_refuses_bad_fields(
    admin: Cloudflare, app_id: str, field: str, value: Any, words: str
) -> None:
    fields: dict[str, Any] = {
        "name": "n", "url": "https://example.com/h", "events": ["meeting.started"],
    }  # fmt: skip
    fields[field] = value
    with pytest.raises(cloudflare.BadRequestError) as caught:
        admin.realtime_kit.webhooks.create_webhook(app_id, account_id=ACCOUNT, **fields)
    assert words in caught.value.body["error"]["message"]  # type: ignore[index]
    if field == "url" and "secret" in str(value):
        assert "secret" not in caught.value.response.text
    assert admin.realtime_kit.webhooks.get_webhooks(app_id, account_id=ACCOUNT).data == []


def test_edit_and_replace_refuse_bad_fields_and_change_nothing(
    admin: Cloudflare, app_id: str
) -> None:
    hooks = admin.realtime_kit.webhooks
    made = hooks.create_webhook(
        app_id, account_id=ACCOUNT, name="keep", url="https://example.com/h",
        events=["meeting.started"],
    ).data  # fmt: skip
    with pytest.raises(cloudflare.BadRequestError, match="unknown names"):
        hooks.edit_webhook(
            made.id, account_id=ACCOUNT, app_id=app_id,
            events=["meeting.started", "nope"],  # type: ignore[list-item]
        )  # fmt: skip
    with pytest.raises(cloudflare.BadRequestError, match="user name or password"):
        hooks.edit_webhook(
            made.id, account_id=ACCOUNT, app_id=app_id, url="https://a:b@example.com/"
        )
    with pytest.raises(cloudflare.BadRequestError, match="missing required fields: url"):
        hooks.replace_webhook(
            made.id, account_id=ACCOUNT, app_id=app_id, name="x", events=["meeting.ended"],
            url=cloudflare.omit,  # type: ignore[arg-type]
        )  # fmt: skip
    with pytest.raises(cloudflare.NotFoundError, match="No webhook found"):
        hooks.edit_webhook(str(uuid.uuid4()), account_id=ACCOUNT, app_id=app_id, name="x")
    with pytest.raises(cloudflare.NotFoundError):
        hooks.replace_webhook(
            str(uuid.uuid4()), account_id=ACCOUNT, app_id=app_id, name="x",
            url="https://example.com/", events=["meeting.ended"],
        )  # fmt: skip
    with pytest.raises(cloudflare.NotFoundError):
        hooks.delete_webhook(str(uuid.uuid4()), account_id=ACCOUNT, app_id=app_id)
    same = hooks.get_webhook_by_id(made.id, account_id=ACCOUNT, app_id=app_id).data
    assert same.model_dump() == made.model_dump()


def test_admin_permission_and_app_scope(server: Any, app_id: str) -> None:
    reader = sdk(server, server.token(ACCOUNT, "read", "ingest", app=app_id))
    for call in (
        lambda: reader.realtime_kit.webhooks.get_webhooks(app_id, account_id=ACCOUNT),
        lambda: reader.realtime_kit.webhooks.create_webhook(
            app_id,
            account_id=ACCOUNT,
            name="n",
            url="https://example.com/",
            events=["meeting.ended"],
        ),
    ):
        with pytest.raises(cloudflare.PermissionDeniedError):
            call()
    other_app = sdk(server, server.token(ACCOUNT, "admin", app=f"{app_id}-other"))
    with pytest.raises(cloudflare.PermissionDeniedError):
        other_app.realtime_kit.webhooks.get_webhooks(app_id, account_id=ACCOUNT)
    with pytest.raises(cloudflare.AuthenticationError):
        sdk(server, "rtk_nope").realtime_kit.webhooks.get_webhooks(app_id, account_id=ACCOUNT)
    # 401 and 403 come before a complaint about the body.
    url = f"{server.base_url}/client/v4/accounts/{ACCOUNT}/realtime/kit/{app_id}/webhooks"
    reader_token = server.token(ACCOUNT, "read", app=app_id)
    bad = httpx.post(url, content=b"{", headers={"Authorization": f"Bearer {reader_token}"})
    assert bad.status_code == 403


def test_webhooks_of_one_app_are_invisible_from_another(server: Any, app_id: str) -> None:
    account_wide = sdk(server, server.token(ACCOUNT, "admin"))
    other = f"{app_id}-b"
    for app in (app_id, other):
        server.token(ACCOUNT, "read", app=app)  # creates the app
    made = account_wide.realtime_kit.webhooks.create_webhook(
        app_id, account_id=ACCOUNT, name="a", url="https://example.com/",
        events=["meeting.ended"],
    ).data  # fmt: skip
    assert account_wide.realtime_kit.webhooks.get_webhooks(other, account_id=ACCOUNT).data == []
    with pytest.raises(cloudflare.NotFoundError):
        account_wide.realtime_kit.webhooks.get_webhook_by_id(
            made.id, account_id=ACCOUNT, app_id=other
        )


def test_body_mistakes_say_what_to_fix(server: Any, app_id: str) -> None:
    token = server.token(ACCOUNT, "admin", app=app_id)
    url = f"{server.base_url}/client/v4/accounts/{ACCOUNT}/realtime/kit/{app_id}/webhooks"
    headers = {"Authorization": f"Bearer {token}"}
    cases = [
        (b"{", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'{"name":"n","url":"https://e.com","events":["meeting.ended"],"secret":1}',
         "unknown fields 'secret'"),
        (b'{"name":"n","url":"https://e.com","events":["meeting.ended"],"enabled":"yes"}',
         "enabled must be true or false"),
        (b'{"name":"n","events":["meeting.ended"]}', "missing required fields: url"),
    ]  # fmt: skip
    for body, words in cases:
        resp = httpx.post(url, content=body, headers=headers)
        assert resp.status_code == 400, body
        assert words in resp.json()["error"]["message"], (body, resp.text)


def test_cli_create_list_delete_seen_by_the_sdk(
    server: Any, admin: Cloudflare, app_id: str
) -> None:
    hook_id = server.cli(
        "webhook", "create", "--account", ACCOUNT, "--app", app_id,
        "--url", "https://example.com/from-cli", "--event", "meeting.started",
        "--event", "meeting.ended", "--name", "cli",
    ).strip().splitlines()[-1]  # fmt: skip
    got = admin.realtime_kit.webhooks.get_webhook_by_id(
        hook_id, account_id=ACCOUNT, app_id=app_id
    ).data
    assert (got.name, got.url, got.events, got.enabled) == (
        "cli", "https://example.com/from-cli", ["meeting.started", "meeting.ended"], True,
    )  # fmt: skip
    listed = server.cli("webhook", "list", "--account", ACCOUNT, "--app", app_id)
    assert listed.startswith(f"{hook_id}\tenabled\tmeeting.started,meeting.ended\t")
    refused = cli(
        server.env, "webhook", "create", "--account", ACCOUNT, "--app", app_id,
        "--url", "https://u:p@example.com/", "--event", "meeting.ended",
    )  # fmt: skip
    assert refused.returncode == 2 and "user name or password" in refused.stderr
    missing = cli(
        server.env, "webhook", "create", "--account", ACCOUNT, "--app", "no-such-app",
        "--url", "https://example.com/", "--event", "meeting.ended",
    )  # fmt: skip
    assert missing.returncode == 2 and "No app found" in missing.stderr
    assert (
        server.cli("webhook", "delete", "--account", ACCOUNT, "--app", app_id, hook_id).strip()
        == "deleted"
    )
    assert admin.realtime_kit.webhooks.get_webhooks(app_id, account_id=ACCOUNT).data == []


def test_public_key_is_served_without_a_token(server: Any) -> None:
    from cryptography.hazmat.primitives import serialization

    from rtk_sessions.webhooks.keys import KEY_FILE

    resp = httpx.get(f"{server.base_url}/.well-known/webhooks.json")
    assert resp.status_code == 200
    body = resp.json()
    assert body["success"] is True and body["message"] == ""
    served = serialization.load_pem_public_key(body["data"]["publicKey"].encode())
    kept = serialization.load_pem_private_key(
        (Path(server.env["RTK_DATA_DIR"]) / KEY_FILE).read_bytes(), password=None
    )
    assert served.public_numbers() == kept.public_key().public_numbers()  # type: ignore[union-attr]


def test_deliveries_to_loopback_are_refused_by_default(server: Any, app_id: str) -> None:
    """The shared server runs with the default RTK_WEBHOOK_ALLOW_PRIVATE (off)."""
    from webhook_receiver import receiving

    token = server.token(ACCOUNT, "admin", "ingest", app=app_id)
    pem = httpx.get(f"{server.base_url}/.well-known/webhooks.json").json()["data"]["publicKey"]
    with receiving(pem) as receiver:
        hook = sdk(server, token).realtime_kit.webhooks.create_webhook(
            app_id, account_id=ACCOUNT, name="inside", url=receiver.url,
            events=["meeting.started"],
        ).data  # fmt: skip
        join = {"id": "j", "type": "peer.joined", "meeting_id": "m", "peer_id": f"p-{app_id}",
                "occurred_at": "2026-10-01T10:00:00Z"}  # fmt: skip
        httpx.post(
            f"{server.base_url}/ingest/v1/accounts/{ACCOUNT}/apps/{app_id}/events",
            json=[join], headers={"Authorization": f"Bearer {token}"}, timeout=30,
        ).raise_for_status()  # fmt: skip
        url = (f"{server.base_url}/client/v4/accounts/{ACCOUNT}/realtime/kit/{app_id}"
               f"/webhooks/{hook.id}/deliveries")  # fmt: skip
        deadline = time.monotonic() + 30
        while not (log := httpx.get(url, headers={"Authorization": f"Bearer {token}"}).json()[
            "data"]["deliveries"]):  # fmt: skip
            assert time.monotonic() < deadline, "no attempt was made"
            time.sleep(0.2)
        [attempt] = log
        assert attempt["status_code"] is None and attempt["delivery_state"] == "failed"
        assert "private, loopback or link-local" in attempt["error"]
        assert "RTK_WEBHOOK_ALLOW_PRIVATE" in attempt["error"]
        assert receiver.deliveries == []
