"""The docs that users rely on stay true: the committed OpenAPI document and the settings."""

from __future__ import annotations

import json
from pathlib import Path

from rtk_sessions.app import openapi_document
from rtk_sessions.config import settings_reference

ROOT = Path(__file__).resolve().parents[2]


def test_committed_openapi_is_current() -> None:
    generated = json.loads(json.dumps(openapi_document()))
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert generated == committed, (
        "docs/openapi.json is stale: run `make openapi` and review the diff"
    )


def test_every_sdk_route_is_documented() -> None:
    paths = json.loads((ROOT / "docs" / "openapi.json").read_text())["paths"]
    prefix = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}"
    operations = {
        op["operationId"]
        for path, item in paths.items()
        if path.startswith(prefix)
        for op in item.values()
    }
    assert {
        "GetSessions",
        "GetSessionDetails",
        "GetSessionParticipants",
        "GetParticipantDetails",
    } <= operations


def test_every_setting_is_in_the_configuration_page() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    missing = [env for env, _, _ in settings_reference() if f"`{env}`" not in page]
    assert not missing, f"add to docs/configuration.md: {missing}"


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("## ")]
    assert "make run" in head and "make test" in head
