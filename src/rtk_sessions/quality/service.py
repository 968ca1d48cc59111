"""Peer reports: built from a peer's telemetry once per change, stored, served filtered.

Building reads every sample of the peer, so it happens when telemetry arrives (a job queued
after the ingest commit) or, at the latest, on the first read after a change; every other
read is answered from the stored report.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import msgspec

from rtk_sessions.auth.service import resolve_app
from rtk_sessions.files.service import fingerprint_of
from rtk_sessions.kit.apps import AppRef
from rtk_sessions.kit.errors import BadRequest, NotFound
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms
from rtk_sessions.quality import repo
from rtk_sessions.quality.assemble import build_report, participant
from rtk_sessions.quality.lookup import IpLookup, ip_lookup_from_settings
from rtk_sessions.quality.metadata import parse_filters, select_sections

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


async def current_report(state: AppState, app: AppRef, peer_id: str) -> dict[str, Any]:
    """The stored report if it matches the telemetry, else a new one, built and stored; for a
    peer without telemetry, the imported report when there is one."""
    async with state.db.read() as conn:
        figures = await repo.telemetry_state(conn, app.pk, peer_id)
        stored = await repo.stored_report(conn, app.pk, peer_id)
        # No telemetry of its own: the report a history import brought, if any, is served.
        imported = None if figures[0] else await repo.imported_report(conn, app.pk, peer_id)
    if imported is not None:
        found: dict[str, Any] = msgspec.json.decode(imported)
        return found
    s = state.settings
    fingerprint = fingerprint_of(*figures, s.report_max_points, s.geoip_mmdb)
    if stored is not None and stored[0] == fingerprint:
        report: dict[str, Any] = msgspec.json.decode(stored[1])
        return report
    async with state.db.read() as conn:
        telemetry = await repo.telemetry(conn, app.pk, peer_id)
    lookup = ip_lookup(state.settings.geoip_mmdb)
    report = await asyncio.to_thread(
        build_report, telemetry, lookup, state.settings.report_max_points
    )
    async with state.db.write() as conn:
        await repo.store_report(
            conn, app.pk, peer_id, fingerprint, msgspec.json.encode(report).decode(), now_ms()
        )
    return report


async def peer_report(
    state: AppState, app: AppRef, peer_id: str, filters: set[str] | None, with_events: bool
) -> dict[str, Any]:
    """`data.participant` of GET /sessions/peer-report/{peer_id}; 404 for an unknown peer."""
    async with state.db.read() as conn:
        peer = await repo.find_peer(conn, app.pk, peer_id)
    if peer is None:
        raise NotFound(f"No participant found with peer id {peer_id}")
    report = await current_report(state, app, peer.id)
    out = participant(peer, now_ms(), with_events)
    out["peer_report"] = report if filters is None else select_sections(report, filters)
    return out


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
    """The job: bring the stored reports up to date (does nothing for those that already are)."""
    async with state.db.read() as conn:
        try:
            pk = await resolve_app(conn, account_id, app_id)
        except NotFound:
            return
    for peer_id in peer_ids:
        async with state.db.read() as conn:
            joined = await repo.find_peer(conn, pk, peer_id) is not None
        if joined:  # telemetry of a peer not joined yet waits, pending, like its report
            await current_report(state, AppRef(pk, app_id), peer_id)
