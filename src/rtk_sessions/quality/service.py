"""Peer reports: built from a peer's telemetry once per change, stored, served filtered.

Building reads every sample of the peer, so it happens when telemetry arrives (a job queued
after the ingest commit) or, at the latest, on the first read after a change; every other
read is answered from the stored report.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import Iterator
from typing import Any

import msgspec

from rtk_sessions.auth.service import resolve_app
from rtk_sessions.files.service import fingerprint_of
from rtk_sessions.ingest.fields import rfc3339_ms
from rtk_sessions.kit.errors import BadRequest, NotFound
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms, to_iso, to_iso_or_none
from rtk_sessions.quality import repo
from rtk_sessions.quality.lookup import IpLookup, ip_lookup_from_settings
from rtk_sessions.quality.metadata import build_metadata, parse_filters, select_sections
from rtk_sessions.quality.repo import TelemetryEvent
from rtk_sessions.quality.report import build_quality
from rtk_sessions.sessions.accounting import interval_ms, minutes
from rtk_sessions.sessions.derivation import AppRef
from rtk_sessions.sessions.repo import PeerRow
from rtk_sessions.sessions.schemas import peer_events

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


class _StatsBody(msgspec.Struct):
    samples: list[dict[str, Any]]


_STATS = msgspec.json.Decoder(_StatsBody)  # typed: skips the event's other fields


def _samples(stats: list[TelemetryEvent]) -> Iterator[dict[str, Any]]:
    """Every sample with `timestamp_ms`; the streams of one poll share a timestamp string, so
    each distinct one is parsed once."""
    parsed: dict[str, int | None] = {}
    for event in stats:
        for sample in _STATS.decode(event.body).samples:
            stamp = sample["timestamp"]
            if isinstance(stamp, int):
                sample["timestamp_ms"] = stamp
            else:
                if stamp not in parsed:
                    parsed[stamp] = rfc3339_ms(stamp)
                sample["timestamp_ms"] = parsed[stamp]
            yield sample


def build_report(
    telemetry: list[TelemetryEvent], ip_lookup: IpLookup, max_points: int
) -> dict[str, Any]:
    """The whole `peer_report` object from the peer's telemetry (pure but for the IP lookup).

    The cyclic garbage collector is paused meanwhile: an hour of samples allocates hundreds of
    thousands of acyclic objects, and collecting while they are made costs a third of the time.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return _report(telemetry, ip_lookup, max_points)
    finally:
        if paused:
            gc.enable()


def _report(
    telemetry: list[TelemetryEvent], ip_lookup: IpLookup, max_points: int
) -> dict[str, Any]:
    described = [
        (e.occurred_at, e.type, msgspec.json.decode(e.body))
        for e in telemetry
        if e.type != "peer.stats"
    ]
    stats = [e for e in telemetry if e.type == "peer.stats"]
    return {
        "metadata": build_metadata(described, ip_lookup=ip_lookup),
        "quality": build_quality(_samples(stats), max_points=max_points),
        "connections": _connections(described),
    }


def _connections(described: list[tuple[int, str, dict[str, Any]]]) -> dict[str, Any]:
    """Per peer connection, the figures an imported rtcstats dump measured (duration, totals,
    ICE reconnects, candidate pair): an extra field the SDK ignores, for support staff and for
    comparing with other tools (decisions.md). The latest import wins per connection."""
    found: dict[str, Any] = {}
    for _, _, body in described:
        found.update(body.get("rtcstats_connections") or {})
    return found


async def current_report(state: AppState, app: AppRef, peer_id: str) -> dict[str, Any]:
    """The stored report if it matches the telemetry, else a new one, built and stored."""
    async with state.db.read() as conn:
        figures = await repo.telemetry_state(conn, app.pk, peer_id)
        stored = await repo.stored_report(conn, app.pk, peer_id)
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


def participant(peer: PeerRow, now: int, with_events: bool) -> dict[str, Any]:
    """The participant part of the answer; `role` is the preset name (wire spec §2.9)."""
    out: dict[str, Any] = {
        "id": peer.id,
        "session_id": peer.session_id,
        "user_id": peer.user_id,
        "custom_participant_id": peer.custom_participant_id,
        "display_name": peer.display_name,
        "role": peer.preset_name,
        "joined_at": to_iso(peer.joined_at),
        "left_at": to_iso_or_none(peer.left_at),
        "duration": minutes(interval_ms(peer.joined_at, peer.left_at, now)),
        "created_at": to_iso(peer.joined_at),
        "updated_at": to_iso(peer.updated_at),
    }
    if with_events:
        out["peer_events"] = msgspec.to_builtins(peer_events(peer))
    return out


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


async def enqueue_report(state: AppState, account_id: str, app_id: str, peer_id: str) -> None:
    """After telemetry was committed: build the report in the background, so reads find it
    ready. Losing this is harmless: the first read builds it."""
    try:
        await asyncio.to_thread(state.jobs.enqueue, JOB, account_id, app_id, peer_id)
    except Exception:
        log.warning("could not enqueue the report of peer %s; the first read builds it", peer_id)


async def run_report(state: AppState, account_id: str, app_id: str, peer_id: str) -> None:
    """The job: bring the stored report up to date (does nothing when it already is)."""
    async with state.db.read() as conn:
        try:
            pk = await resolve_app(conn, account_id, app_id)
        except NotFound:
            return
    await current_report(state, AppRef(pk, app_id), peer_id)
