"""The docs that users rely on stay true: the committed OpenAPI document, the settings, the
event reference, the links between pages, and no path outside the repository."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rtk_sessions.app import openapi_document
from rtk_sessions.config import settings_reference
from rtk_sessions.ingest import validation
from rtk_sessions.ingest.schemas import EVENT_TYPES

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


# --- the event reference cannot drift from the validator ----------------------------------


def _sections(page: str) -> dict[str, str]:
    """The table rows under each `### `name`` heading of a page, by name."""
    parts = re.split(r"^### `([^`]+)`\s*$", page, flags=re.M)
    rows = ("\n".join(x for x in text.splitlines() if x.startswith("|")) for text in parts[2::2])
    return dict(zip(parts[1::2], rows, strict=True))


def test_every_event_type_and_field_the_validator_knows_is_in_the_event_reference() -> None:
    page = (ROOT / "docs" / "events.md").read_text()
    sections = _sections(page)
    assert set(EVENT_TYPES) <= set(sections), "add a ### `type` section to docs/events.md"
    common = _sections("### `common`\n" + page[page.index("## Fields of every event") :])["common"]
    missing = [name for name, _, _ in validation._COMMON if f"`{name}`" not in common]
    missing += ["occurred_at"] if "`occurred_at`" not in common else []
    for event_type, rules in validation._RULES.items():
        names = [name for name, _, _ in rules]
        if event_type == "peer.stats":
            names += list(validation._SAMPLE_NUMBERS)
        missing += [f"{event_type}.{n}" for n in names if f"`{n}`" not in sections[event_type]]
    assert not missing, f"document in docs/events.md: {missing}"


# --- links and paths ----------------------------------------------------------------------

_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces become dashes."""
    headings = re.findall(r"^#+ (.+?)\s*$", markdown, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_links_between_the_docs_lead_somewhere() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    pages += sorted((ROOT / "tests" / "data").rglob("README.md"))
    broken = []
    for page in pages:
        for target in _LINK.findall(page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
            elif anchor and file.suffix == ".md" and anchor not in _anchors(file.read_text()):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, broken


def test_nothing_points_outside_the_repository() -> None:
    """Docs, code, tests and benches name no file of the development machine: everything
    they need is in the repository (reference data in tests/data)."""
    needles = ("../" + "shared", "/" + "work/", "shared" + "/spec", "shared" + "/data")
    roots = ["src", "tests", "bench", "docs", "README.md", "Makefile", "pyproject.toml"]
    found = []
    for root in roots:
        base = ROOT / root
        for file in [base] if base.is_file() else sorted(base.rglob("*")):
            if not file.is_file() or file.suffix not in {
                "",
                ".py",
                ".md",
                ".toml",
                ".json",
                ".ini",
            }:
                continue
            if (ROOT / "tests" / "data") in file.parents:
                continue
            text = file.read_text(errors="replace")
            found += [f"{file.relative_to(ROOT)}: {n}" for n in needles if n in text]
    assert not found, found
