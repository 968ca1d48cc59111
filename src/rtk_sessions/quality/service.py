"""Peer reports: built from a peer's telemetry once per change, stored, served filtered.

Building reads every sample of the peer, so it happens when telemetry arrives (a job queued
after the ingest commit) or, at the latest, on the first read after a change; every other
read is answered from the stored report.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from rtk_sessions.auth.service import resolve_app
from rtk_sessions.config import Settings
from rtk_sessions.files.service import fingerprint_of
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.db import Database
from rtk_sessions.kit.errors import BadRequest, NotFound
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.quality import repo
from rtk_sessions.quality.assemble import build_report, participant
from rtk_sessions.quality.lookup import IpLookup, ip_lookup_from_settings
from rtk_sessions.quality.metadata import parse_filters, select_sections
from rtk_sessions.quality.repo import TelemetryEvent
from rtk_sessions.sessions.repo import PeerRow

JOB = "peer_report"
log = logging.getLogger("rtk_sessions.quality")


@functools.lru_cache(maxsize=4)
def ip_lookup(mmdb_path: str) -> IpLookup:
    """One lookup per database file for the life of the process (opening one is not free)."""
    return ip_lookup_from_settings(mmdb_path)


def requested_filters(value: str | None) -> set[str] | None:
    """The report sections asked for; 400 naming the allowed values otherwise."""
    try:
        return parse_filters(value)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


@dataclass(frozen=True)
class Stale:
    """A report to rebuild: the peer's telemetry, read with everything else, and the
    fingerprint the rebuilt report is stored under."""

    peer_id: str
    fingerprint: str
    telemetry: list[TelemetryEvent]


async def read_report(
    conn: AsyncConnection, app: AppRef, peer_id: str, settings: Settings
) -> dict[str, Any] | Stale:
    """The stored report if it matches the telemetry, else what rebuilding it takes; for a
    peer without telemetry, the imported report when there is one."""
    figures = await repo.telemetry_state(conn, app.pk, peer_id)
    stored = await repo.stored_report(conn, app.pk, peer_id)
    # No telemetry of its own: the report a history import brought, if any, is served.
    imported = None if figures[0] else await repo.imported_report(conn, app.pk, peer_id)
    if imported is not None:
        found: dict[str, Any] = msgspec.json.decode(imported)
        return found
    fingerprint = fingerprint_of(*figures, settings.report_max_points, settings.geoip_mmdb)
    if stored is not None and stored[0] == fingerprint:
        report: dict[str, Any] = msgspec.json.decode(stored[1])
        return report
    return Stale(peer_id, fingerprint, await repo.telemetry(conn, app.pk, peer_id))


async def rebuild_report(
    db: Database, app: AppRef, stale: Stale, settings: Settings
) -> dict[str, Any]:
    """The second phase of a read that found the report stale: build it (off the event loop)
    and store it, in a write transaction of its own after the read's."""
    lookup = ip_lookup(settings.geoip_mmdb)
    report = await asyncio.to_thread(
        build_report, stale.telemetry, lookup, settings.report_max_points
    )
    async with db.write() as conn:
        await repo.store_report(
            conn,
            app.pk,
            stale.peer_id,
            stale.fingerprint,
            msgspec.json.encode(report).decode(),
            now_ms(),
        )
    return report


async def current_report(state: AppState, app: AppRef, peer_id: str) -> dict[str, Any]:
    """The job's way: read, then rebuild and store when stale."""
    async with state.db.read() as conn:
        found = await read_report(conn, app, peer_id, state.settings)
    if isinstance(found, Stale):
        return await rebuild_report(state.db, app, found, state.settings)
    return found


@dataclass(frozen=True)
class PeerReport:
    """What the read phase of GET /sessions/peer-report found: the peer and its report, or
    what rebuilding the report takes (`rebuild_report`, the second phase)."""

    peer: PeerRow
    report: dict[str, Any] | Stale

    @property
    def stale(self) -> bool:
        return isinstance(self.report, Stale)

    def served(self, filters: set[str] | None, with_events: bool) -> dict[str, Any]:
        """`data.participant` of the response, once the report is current."""
        if isinstance(self.report, Stale):
            raise RuntimeError("the stale report was not rebuilt")
        out = participant(self.peer, now_ms(), with_events)
        out["peer_report"] = (
            self.report if filters is None else select_sections(self.report, filters)
        )
        return out


async def peer_report(
    conn: AsyncConnection, app: AppRef, peer_id: str, settings: Settings
) -> PeerReport:
    """The read phase of GET /sessions/peer-report/{peer_id}; 404 for an unknown peer."""
    peer = await repo.find_peer(conn, app.pk, peer_id)
    if peer is None:
        raise NotFound(f"No participant found with peer id {peer_id}")
    return PeerReport(peer, await read_report(conn, app, peer.id, settings))


async def rebuild_peer_report(
    db: Database, app: AppRef, found: PeerReport, settings: Settings
) -> PeerReport:
    """The second phase of GET /sessions/peer-report, for a stale report (a no-op otherwise)."""
    if not isinstance(found.report, Stale):
        return found
    return PeerReport(found.peer, await rebuild_report(db, app, found.report, settings))


async def enqueue_reports(
    state: AppState, account_id: str, app_id: str, peer_ids: list[str]
) -> None:
    """After telemetry was committed: rebuild these peers' reports in the background (one job
    per batch, so ingesting many peers costs one enqueue), and reads find them ready. Losing
    this is harmless: the first read builds a stale report."""
    if not peer_ids:
        return
    try:
        await asyncio.to_thread(state.jobs.enqueue, JOB, account_id, app_id, peer_ids)
    except Exception:
        log.warning("could not enqueue %d peer reports; reads will build them", len(peer_ids))


async def run_reports(state: AppState, account_id: str, app_id: str, peer_ids: list[str]) -> None:
    """The job: bring the stored reports up to date (does nothing for those that already are).

    Named steps, one transaction each: *find the app*; then per peer *read* (the peer, whether
    its stored report is current, and if not its telemetry) and, only for a stale report,
    *store* the rebuilt one (`rebuild_report`)."""
    async with state.db.read() as conn:
        try:
            pk = await resolve_app(conn, account_id, app_id)
        except NotFound:
            return
    app = AppRef(pk, app_id)
    for peer_id in peer_ids:
        async with state.db.read() as conn:
            if await repo.find_peer(conn, pk, peer_id) is None:
                continue  # telemetry of a peer not joined yet waits, pending, like its report
            found = await read_report(conn, app, peer_id, state.settings)
        if isinstance(found, Stale):
            await rebuild_report(state.db, app, found, state.settings)
