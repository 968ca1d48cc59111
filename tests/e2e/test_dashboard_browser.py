"""The dashboard in Debian's Chromium (through Playwright), on the demo data `make run` loads:
the banner's one-click sign-in, every page checked against the official SDK's answers for the
same app, session and peer, every chart's canvas and legend, filters and paging, a summary
generated and seen, a webhook created and switched, axe-core's accessibility rules on every
page, reading without JavaScript, and sign-out. No page may break its Content-Security-Policy.

Screenshots of each page are taken on the way; RTK_UPDATE_SCREENSHOTS=1 writes them into
docs/screenshots/ (the README shows them)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudflare import Cloudflare

from browser_call import (
    JS,
    browser_leftovers,
    check_tools,
    chromium_context,
    install_clients,
    playwright_driver,
)
from support import PG_ENV, ROOT, Server, own_database, running_server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.serial,
    pytest.mark.skipif(bool(os.environ.get(PG_ENV)), reason="a browser: SQLite stage only"),
]

ACCOUNT, APP = "demo-account", "demo-app"
SHOTS = ROOT / "docs" / "screenshots"
UPDATE_ENV = "RTK_UPDATE_SCREENSHOTS"
AXE = JS / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}


@dataclass
class Site:
    server: Server
    token: str
    driver: Any  # Playwright, for another browser of the same test
    context: Any
    page: Any
    shots: Path
    problems: list[str] = field(default_factory=list)

    @property
    def sdk(self) -> Cloudflare:
        return Cloudflare(api_token=self.token, base_url=f"{self.server.base_url}/client/v4",
                          _strict_response_validation=True)  # fmt: skip

    def url(self, path: str) -> str:
        return f"{self.server.base_url}/ui/apps/{APP}{path}"

    def visit(self, path: str, shot: str | None = None) -> Any:
        """Open a page, let its charts draw, check it with axe-core, take its screenshot."""
        self.page.goto(self.url(path), wait_until="load")
        self.page.wait_for_function(
            "() => document.querySelectorAll('figure.chart').length ==="
            " document.querySelectorAll('figure.chart[data-drawn]').length"
        )
        self.check_accessibility(path)
        if shot:
            self.page.screenshot(path=self.shots / f"{shot}.png", full_page=True)
        return self.page

    def check_accessibility(self, path: str) -> None:
        if not self.page.evaluate("() => typeof axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text())  # by the DevTools protocol: not page script
        found = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " where: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
        )
        serious = [v for v in found if v["impact"] in BLOCKING]
        assert serious == [], f"axe-core on {path}: {serious}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    check_tools()
    install_clients()  # axe-core comes with the browser tests' npm packages
    data = tmp_path_factory.mktemp("dashboard-browser")
    shots = data / "screenshots"
    shots.mkdir()
    with own_database(data) as url, running_server(data, url, "--demo-if-empty") as srv:
        token = (data / "demo-token").read_text().strip()
        with (
            playwright_driver() as pw,
            chromium_context(pw, data / "profile", viewport={"width": 1280, "height": 900}) as context,
        ):
            context.set_default_timeout(30_000)
            page = context.new_page()
            found = Site(srv, token, pw, context, page, shots)
            page.on("console", lambda m: m.type == "error" and found.problems.append(m.text))
            page.on("pageerror", lambda e: found.problems.append(str(e)))
            yield found
    assert browser_leftovers() == []
    if os.environ.get(UPDATE_ENV):
        SHOTS.mkdir(parents=True, exist_ok=True)
        for png in shots.glob("*.png"):
            shutil.copyfile(png, SHOTS / png.name)


def _text(page: Any, selector: str) -> str:
    return str(page.locator(selector).inner_text()).strip()


def _chart(page: Any, chart_id: str) -> dict[str, Any]:
    """What a drawn chart holds: its series, the points of each, the legend's values, and how
    many pixels of its canvas were painted."""
    found: dict[str, Any] = page.evaluate(
        """(id) => {
            const c = window.rtkCharts.find(c => c.id === id);
            const figure = document.querySelector(`figure[data-chart="${id}"]`);
            const canvas = figure.querySelector('canvas');
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) painted++;
            return {
                series: c.plot.series.map(s => s.label),
                points: c.plot.data.map(d => d.length),
                legend: [...figure.querySelectorAll('.u-legend tr.u-series td.u-value')].map(td => td.textContent),
                painted: painted,
            };
        }""",
        chart_id,
    )
    return found


def _number(text: str) -> float:
    return float(text.replace(",", "").split()[0])


def _assert_drawn(chart: dict[str, Any]) -> None:
    assert len(chart["series"]) >= 2 and min(chart["points"]) >= 1, chart
    assert chart["painted"] > 500, chart  # lines and axes on the canvas, not a blank box
    assert chart["legend"][1] != "--", chart


def test_the_banner_link_signs_in_with_one_click(site: Site) -> None:
    banner = re.search(r"dashboard\s+(http://\S+/ui/sign-in#token=(rtk_\S+))", site.server.log.read_text())
    assert banner and banner.group(2) == site.token
    page = site.page
    page.goto(banner.group(1))
    page.wait_for_url(f"{site.server.base_url}/ui/apps/{APP}/")
    [cookie] = [c for c in site.context.cookies() if c["name"] == "rtk_dashboard"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert site.token not in cookie["value"] and "#" not in page.url


def test_usage_shows_the_apis_figures_and_its_chart(site: Site) -> None:
    page = site.visit("/", "usage")
    stats = site.sdk.realtime_kit.analytics.get_org_analytics(APP, account_id=ACCOUNT).data
    assert stats is not None and stats.session_stats is not None
    s = stats.session_stats
    assert _number(_text(page, "#fig-sessions")) == s.sessions_count
    # Live sessions keep consuming minutes between the page and the API's later answer.
    shown = _number(_text(page, "#fig-minutes"))
    assert 0 <= s.sessions_minutes_consumed - shown < 5
    live = site.sdk.realtime_kit.sessions.get_sessions(APP, account_id=ACCOUNT, status="LIVE")
    assert _number(_text(page, "#fig-live")) == live.paging.total_count
    chart = _chart(page, "usage-chart")
    _assert_drawn(chart)
    days = s.day_stats or []
    assert chart["points"] == [len(days)] * 3
    peak = max(d.total_session_minutes for d in days)
    assert -0.001 < peak - _number(chart["legend"][1]) < 5  # the legend shows 3 decimals
    assert site.problems == []


def test_sessions_filter_search_and_page_like_the_api(site: Site) -> None:
    api = site.sdk.realtime_kit.sessions
    page = site.visit("/sessions", "sessions")
    page.select_option("#status", "LIVE")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**status=LIVE**")
    live = api.get_sessions(APP, account_id=ACCOUNT, status="LIVE")
    rows = page.locator("tr[data-session-id]")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.sessionId)") == [
        s.id for s in live.data.sessions
    ]
    assert page.locator("#sessions-table[hx-trigger]").count() == 1  # polled while LIVE shown
    # The poll swaps the table in place: the page is not reloaded.
    page.evaluate("() => { window.notReloaded = true; }")
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true",
                              timeout=15_000) as polled:  # fmt: skip
        pass
    assert polled.value.ok and "status=LIVE" in polled.value.url
    page.wait_for_selector("#sessions-table")
    assert page.evaluate("() => window.notReloaded") is True

    page.goto(site.url("/sessions?per_page=10"))
    everything = api.get_sessions(APP, account_id=ACCOUNT, per_page=10, page_no=2)
    page.click("nav.pages a[rel=next]")
    page.wait_for_url("**page_no=2**")
    pages = -(-int(everything.paging.total_count) // 10)
    assert _text(page, "#page-label") == f"page 2 of {pages}"
    shown = page.locator("tr[data-session-id]").evaluate_all("rs => rs.map(r => r.dataset.sessionId)")
    assert shown == [s.id for s in everything.data.sessions]

    term = everything.data.sessions[0].meeting_display_name.split()[0]
    page.fill("#search", term)
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**search=**")
    found = api.get_sessions(APP, account_id=ACCOUNT, search=term, per_page=10)
    assert _text(page, "#sessions-count").startswith(f"{int(found.paging.total_count)} sessions")
    assert site.problems == []


def _ended_session(site: Site) -> Any:
    """The latest ENDED session with several people (recent demo sessions carry telemetry,
    chat and a transcript)."""
    listed = site.sdk.realtime_kit.sessions.get_sessions(APP, account_id=ACCOUNT, status="ENDED",
                                                         per_page=20).data.sessions  # fmt: skip
    return next(s for s in listed if s.max_concurrent_participants >= 3)


def test_webhooks_are_created_and_switched_from_their_page(site: Site) -> None:
    page = site.visit("/webhooks", "webhooks")
    page.fill("#wh-name", "ops alerts")
    page.fill("#wh-url", "http://127.0.0.1:9/hooks")
    page.check("input[name='event:meeting.summary']")
    page.click("#new-webhook button[type=submit]")
    page.wait_for_selector("#webhooks")
    hooks = site.sdk.realtime_kit.webhooks.get_webhooks(APP, account_id=ACCOUNT).data
    assert [(h.name, list(h.events), h.enabled) for h in hooks] == [("ops alerts", ["meeting.summary"], True)]
    page.click("#webhooks button:has-text('Disable')")
    page.wait_for_selector("#webhooks button:has-text('Enable')")
    assert site.sdk.realtime_kit.webhooks.get_webhooks(APP, account_id=ACCOUNT).data[0].enabled is False
    page.click("#webhooks button:has-text('Enable')")
    page.wait_for_selector("#webhooks button:has-text('Disable')")
    assert site.problems == []


def test_a_session_page_matches_the_api_and_makes_a_summary(site: Site) -> None:
    session = _ended_session(site)
    api = site.sdk.realtime_kit.sessions
    page = site.visit(f"/sessions/{session.id}", "session")
    details = api.get_session_details(session.id, account_id=ACCOUNT, app_id=APP).data
    people = api.get_session_participants(session.id, account_id=ACCOUNT, app_id=APP,
                                          view="consolidated", per_page=100).data  # fmt: skip
    raw = api.get_session_participants(session.id, account_id=ACCOUNT, app_id=APP,
                                       per_page=100).data  # fmt: skip
    assert _text(page, "#fig-minutes") == f"{details.minutes_consumed:,.2f}"
    assert _number(_text(page, "#fig-max")) == details.max_concurrent_participants
    assert _number(_text(page, "#fig-people")) == len(people.participants or [])
    assert _number(_text(page, "#fig-peers")) == len(raw.participants or [])
    # One bar per connection, one row per person.
    assert page.locator("#timeline rect").count() == len(raw.participants or [])
    assert page.locator("#timeline tbody th[scope=row]").count() == len(people.participants or [])
    concurrency = _chart(page, "concurrency-chart")
    _assert_drawn(concurrency)
    assert _number(concurrency["legend"][1]) == details.max_concurrent_participants

    # The transcript, searchable on the page, as the JSON download has it.
    lines = page.locator("#transcript li")
    total = lines.count()
    link = page.locator("a[href$='/files/transcript-JSON']").get_attribute("href")
    downloaded = page.request.get(f"{site.server.base_url}{link}")
    assert downloaded.ok and len(downloaded.json()) == total > 0
    word = max(re.findall(r"[a-z]{5,}", _text(page, "#transcript li:first-child .said").lower()),
               key=len)  # fmt: skip
    page.fill("#transcript-search", word)
    visible = page.locator("#transcript li:visible")
    assert 0 < visible.count() <= total
    assert all(word in t.lower() for t in visible.all_inner_texts())

    # Generate the summary; the section shows progress, then the text the API links to.
    page.click("#generate-summary")
    page.wait_for_selector("#summary-text", timeout=60_000)
    summary = api.get_session_summary(session.id, account_id=ACCOUNT, app_id=APP).data
    assert summary is not None and summary.summary_download_url
    text = httpx.get(summary.summary_download_url, timeout=30).text
    assert _text(page, "#summary-text") == text.strip()

    # The webhook above subscribed to meeting.summary: its delivery is listed for the session.
    page.reload()
    page.wait_for_selector("#deliveries")
    assert "meeting.summary" in _text(page, "#deliveries")
    site.visit(f"/sessions/{session.id}", "session")  # the screenshot, with its summary
    assert site.problems == []


def test_a_peer_page_names_the_worst_problem_and_charts_each_stream(site: Site) -> None:
    session = _ended_session(site)
    api = site.sdk.realtime_kit.sessions
    raw = api.get_session_participants(session.id, account_id=ACCOUNT, app_id=APP, per_page=100)
    peer = (raw.data.participants or [])[0]
    report = api.get_participant_data_from_peer_id(peer.id, account_id=ACCOUNT, app_id=APP)
    participant = report.data.participant
    page = site.visit(f"/peers/{peer.id}", "peer")
    assert _text(page, "#fig-duration") == f"{participant.duration:,.2f}"
    verdict = _text(page, "#verdict")
    assert verdict.endswith(".") and (peer.display_name or "") in verdict
    quality = report.to_dict()["data"]["participant"]["peer_report"]["quality"]
    sections = {k: v for k, v in quality.items() if isinstance(v, list) and v}
    assert sections, "the demo's recent peers carry statistics"
    for name, entries in sections.items():
        mos = _chart(page, f"chart-{name}-1")  # each section's first chart is its MOS
        _assert_drawn(mos)
        streams = list(dict.fromkeys(e["ssrc"] for e in entries))[:6]  # a series per stream
        times = {e["timestamp"] for e in entries}
        assert len(mos["series"]) == 1 + len(streams) and mos["series"][1].startswith("MOS")
        assert mos["points"] == [len(times)] * (1 + len(streams))
        first = [e["mos_quality"] for e in entries if e["ssrc"] == streams[0]]
        best = max(v for v in first if v is not None)
        assert abs(_number(mos["legend"][1]) - round(best, 3)) < 0.001
    charts = page.evaluate("() => window.rtkCharts.map(c => c.id)")
    for chart_id in charts:
        _assert_drawn(_chart(page, chart_id))
    assert site.problems == []


def test_deliveries_can_be_sent_again(site: Site) -> None:
    hook = site.sdk.realtime_kit.webhooks.get_webhooks(APP, account_id=ACCOUNT).data[0]
    page = site.visit(f"/webhooks/{hook.id}")
    for _ in range(30):  # the sender tries within a second or two; bounded
        if page.locator("#attempts").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    site.visit(f"/webhooks/{hook.id}", "deliveries")
    before = page.locator("#attempts tbody tr").count()
    assert before >= 1
    page.click("#attempts button:has-text('Redeliver')")
    page.wait_for_url(f"**/webhooks/{hook.id}")
    assert site.problems == []


def test_pages_read_without_javascript(site: Site, tmp_path: Path) -> None:
    session = _ended_session(site)
    with chromium_context(site.driver, tmp_path / "plain", java_script_enabled=False) as context:
        page = context.new_page()
        page.goto(f"{site.server.base_url}/ui/apps/{APP}/sessions/{session.id}")
        page.fill("#token", site.token)
        page.click("#sign-in button[type=submit]")
        page.wait_for_url(f"**/sessions/{session.id}")
        assert page.locator("#timeline rect").count() > 0
        total = page.locator("#transcript li").count()
        word = re.findall(r"[a-z]{5,}", page.locator("#transcript li .said").first.inner_text().lower())[0]
        page.fill("#transcript-search", word)
        page.click("form[role=search] button[type=submit]")
        page.wait_for_url("**q=**")
        shown = page.locator("#transcript li").all_inner_texts()
        assert 0 < len(shown) <= total and all(word in t.lower() for t in shown)


def test_other_apps_and_missing_things_have_pages_too(site: Site) -> None:
    """An account-wide token with two apps chooses one; a missing session is a page that
    says so. Both pass axe-core too."""
    site.server.token(ACCOUNT, "read", app="second-app")  # creates the account's second app
    page = site.page
    page.goto(f"{site.server.base_url}/ui/")
    assert page.locator("ul.apps a").all_inner_texts() == [APP, "second-app"]
    site.check_accessibility("/ui/")
    page.click("ul.apps a:has-text('second-app')")
    page.wait_for_url("**/ui/apps/second-app/")
    assert _number(_text(page, "#fig-sessions")) == 0
    answer = page.goto(site.url("/sessions/00000000-0000-4000-8000-000000000000"))
    assert answer is not None and answer.status == 404
    assert "No session found" in _text(page, "p.error")
    site.check_accessibility("a missing session")
    # The browser logs the page's own 404 status; nothing else may appear.
    site.problems[:] = [p for p in site.problems if "status of 404" not in p]
    assert site.problems == []


def test_sign_out_ends_the_visit(site: Site) -> None:
    page = site.visit("/")
    page.click("form.signout button")
    page.wait_for_url("**/ui/sign-in")
    assert [c for c in site.context.cookies() if c["name"] == "rtk_dashboard"] == []
    page.goto(site.url("/sessions"))
    page.wait_for_url("**/ui/sign-in?next=**")
    site.check_accessibility("/ui/sign-in")
    page.screenshot(path=site.shots / "sign-in.png")
    assert site.problems == []
