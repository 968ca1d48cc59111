"""A peer report's `metadata` object from the peer's `peer.metadata` and `peer.event` events
(pure but for the injected IP lookup), and the `filters` that pick report sections.

Events are merged in `(occurred_at, id)` order whatever order they come in, so the result
depends only on the set of events: scalars take the latest value, lists are in time order and
candidate pairs are upserted by (transport, local candidate id, remote candidate id).
Explicit `device_info` / `browser_metadata` / `ip_information` values win over what the user
agent and the IP lookup say. Every section is always present: objects as `{}` and scalars as
`null` when nothing is known, lists as `[]`; inside them, only known fields appear.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rtk_sessions.kit.timeutil import to_iso
from rtk_sessions.quality.lookup import IpLookup, UserAgentInfo, parse_user_agent

FILTERS = (
    "device_info",
    "ip_information",
    "precall_network_information",
    "events",
    "quality_stats",
)
# Which `metadata` keys each filter selects; `quality_stats` selects everything outside
# `metadata` (the `quality` object and any extra call statistics).
METADATA_SECTIONS: dict[str, tuple[str, ...]] = {
    "device_info": (
        "device_info", "browser_metadata", "native_metadata", "sdk_name", "sdk_type",
        "sdk_version", "room_view_type", "audio_devices_updates", "video_devices_updates",
        "speaker_devices_updates", "selected_device_updates",
    ),
    "ip_information": ("ip_information",),
    "precall_network_information": ("pc_metadata", "candidate_pairs"),
    "events": ("events",),
}  # fmt: skip
SECTION_ORDER = (
    "device_info", "browser_metadata", "native_metadata", "sdk_name", "sdk_type", "sdk_version",
    "room_view_type", "ip_information", "pc_metadata", "events", "audio_devices_updates",
    "video_devices_updates", "speaker_devices_updates", "selected_device_updates",
    "candidate_pairs",
)  # fmt: skip
_SCALARS = ("sdk_name", "sdk_type", "sdk_version", "room_view_type", "user_agent", "ip")
_DEVICE_KINDS = ("audio", "video", "speaker")
_TRANSPORTS = ("producing", "consuming")

Check = Callable[[Any], bool]


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool) or _is_num(value)


_DEVICE_INFO: dict[str, Check] = {
    "cpus": _is_num, "is_mobile": _is_bool, "os": _is_str, "os_version": _is_str,
}  # fmt: skip
_BROWSER: dict[str, Check] = {
    "browser": _is_str, "browser_version": _is_str, "engine": _is_str, "user_agent": _is_str,
    "webgl_support": _is_bool,
}  # fmt: skip
_NATIVE: dict[str, Check] = {"audio_encoder": _is_str, "video_encoder": _is_str}
_IP: dict[str, Check] = {
    k: _is_str for k in ("city", "country", "region", "timezone", "ipv4", "org")
}
_ASN: dict[str, Check] = {k: _is_str for k in ("asn", "domain", "name", "route", "type")}
_PC: dict[str, Check] = {
    "effective_network_type": _is_str, "reflexive_connectivity": _is_bool,
    "relay_connectivity": _is_bool, "turn_connectivity": _is_bool,
}  # fmt: skip
_DEVICE: dict[str, Check] = {k: _is_str for k in ("device_id", "kind", "label")}
_PAIR: dict[str, Check] = {
    **{k: _is_num for k in (
        "available_incoming_bitrate", "available_outgoing_bitrate", "bytes_discarded_on_send",
        "bytes_received", "bytes_sent", "current_round_trip_time", "total_round_trip_time",
        "packets_sent", "packets_received", "packets_discarded_on_send",
        "last_packet_received_timestamp", "last_packet_sent_timestamp",
        "local_candidate_port", "local_candidate_related_port", "remote_candidate_port",
    )},
    **{k: _is_str for k in (
        "local_candidate_address", "local_candidate_id", "local_candidate_network_type",
        "local_candidate_protocol", "local_candidate_related_address", "local_candidate_type",
        "local_candidate_url", "remote_candidate_address", "remote_candidate_id",
        "remote_candidate_protocol", "remote_candidate_type", "remote_candidate_url",
    )},
    "nominated": _is_bool,
}  # fmt: skip


def _pick(value: Any, spec: Mapping[str, Check]) -> dict[str, Any]:
    """The fields of `spec` that `value` holds with the right type (nulls say nothing)."""
    if not isinstance(value, Mapping):
        return {}
    return {k: value[k] for k, ok in spec.items() if k in value and ok(value[k])}


def _ordered(values: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    return {k: values[k] for k in spec if k in values}


@dataclass
class _Merged:
    """The peer's metadata so far, folded in `(occurred_at, id)` order."""

    scalars: dict[str, str] = field(default_factory=dict)
    device_info: dict[str, Any] = field(default_factory=dict)
    browser: dict[str, Any] = field(default_factory=dict)
    native: dict[str, Any] = field(default_factory=dict)
    ip: dict[str, Any] = field(default_factory=dict)
    asn: dict[str, Any] = field(default_factory=dict)
    pc: list[dict[str, Any]] = field(default_factory=list)
    devices: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {kind: [] for kind in _DEVICE_KINDS}
    )
    selected: list[dict[str, Any]] = field(default_factory=list)
    pairs: dict[tuple[str, str | None, str | None], dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)


def _order(event: tuple[int, str, Mapping[str, Any]]) -> tuple[int, str]:
    event_id = event[2].get("id")
    return event[0], event_id if isinstance(event_id, str) else ""


def build_metadata(
    events: Iterable[tuple[int, str, Mapping[str, Any]]], *, ip_lookup: IpLookup
) -> dict[str, Any]:
    """The report's `metadata` from `(occurred_at_ms, type, raw event)` triples of one peer.

    The result depends only on the set of events: they are folded in `(occurred_at, id)`
    order (a stable sort, so exact ties keep the given order).
    """
    merged = _Merged()
    for occurred_at, event_type, body in sorted(events, key=_order):
        if event_type == "peer.metadata":
            _absorb(merged, occurred_at, body)
        elif event_type == "peer.event":
            merged.events.append(_event(occurred_at, body))
    return _render(merged, ip_lookup)


def _absorb(merged: _Merged, occurred_at: int, body: Mapping[str, Any]) -> None:
    merged.scalars.update({k: body[k] for k in _SCALARS if _is_str(body.get(k))})
    merged.device_info.update(_pick(body.get("device_info"), _DEVICE_INFO))
    merged.browser.update(_pick(body.get("browser_metadata"), _BROWSER))
    merged.native.update(_pick(body.get("native_metadata"), _NATIVE))
    merged.ip.update(_pick(body.get("ip_information"), _IP))
    merged.asn.update(_explicit_asn(body.get("ip_information")))
    _append_lists(merged, to_iso(occurred_at), body)
    pair = body.get("candidate_pair")
    if isinstance(pair, Mapping) and pair.get("transport") in _TRANSPORTS:
        values = _pick(pair, _PAIR)
        local, remote = values.get("local_candidate_id"), values.get("remote_candidate_id")
        merged.pairs.setdefault((pair["transport"], local, remote), {}).update(values)


def _append_lists(merged: _Merged, stamp: str, body: Mapping[str, Any]) -> None:
    pc = body.get("pc_metadata")
    if isinstance(pc, Mapping):
        sdp = pc.get("sdp")
        lines = [line for line in sdp if _is_str(line)] if isinstance(sdp, list) else []
        merged.pc.append({**_pick(pc, _PC), "sdp": lines, "timestamp": stamp})
    update = body.get("devices_update")
    if isinstance(update, Mapping) and update.get("kind") in _DEVICE_KINDS:
        added, removed = _devices(update.get("added")), _devices(update.get("removed"))
        merged.devices[update["kind"]].append(
            {"timestamp": stamp, "added": added, "removed": removed}
        )
    selected = body.get("selected_device")
    if isinstance(selected, Mapping):
        merged.selected.append({"timestamp": stamp, "device": _pick(selected, _DEVICE)})


def _devices(value: Any) -> list[dict[str, Any]]:
    return (
        [_pick(d, _DEVICE) for d in value if isinstance(d, Mapping)]
        if isinstance(value, list)
        else []
    )


def _asn_text(value: Any) -> Any:
    """`AS15169` for a bare number, so the field stays a string as the model wants."""
    return f"AS{value}" if isinstance(value, int) and not isinstance(value, bool) else value


def _explicit_asn(ip_information: Any) -> dict[str, Any]:
    """`ip_information.asn` as sent: an object, or just the number (`"AS15169"` or 15169)."""
    if not isinstance(ip_information, Mapping):
        return {}
    asn = ip_information.get("asn")
    if isinstance(asn, Mapping):
        return _pick({**asn, "asn": _asn_text(asn.get("asn"))}, _ASN)
    return _pick({"asn": _asn_text(asn)}, _ASN)


def _event(occurred_at: int, body: Mapping[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata")
    values = {k: v for k, v in meta.items() if _is_scalar(v)} if isinstance(meta, Mapping) else {}
    name = body.get("name")
    name = name if _is_str(name) else str(name)
    return {"name": name, "timestamp": to_iso(occurred_at), "metadata": values}


def _render(merged: _Merged, ip_lookup: IpLookup) -> dict[str, Any]:
    user_agent = merged.browser.get("user_agent") or merged.scalars.get("user_agent")
    parsed = parse_user_agent(user_agent) if user_agent else None
    pairs: dict[str, list[dict[str, Any]]] = {f"{t}_transport": [] for t in _TRANSPORTS}
    for (transport, _, _), values in merged.pairs.items():
        pairs[f"{transport}_transport"].append(_ordered(values, _PAIR))
    sections: dict[str, Any] = {
        "device_info": _device_info(merged.device_info, parsed),
        "browser_metadata": _browser_metadata(merged.browser, user_agent, parsed),
        "native_metadata": _ordered(merged.native, _NATIVE),
        **{k: merged.scalars.get(k) for k in ("sdk_name", "sdk_type", "sdk_version")},
        "room_view_type": merged.scalars.get("room_view_type"),
        "ip_information": _ip_information(merged, ip_lookup),
        "pc_metadata": merged.pc,
        "events": merged.events,
        **{f"{kind}_devices_updates": merged.devices[kind] for kind in _DEVICE_KINDS},
        "selected_device_updates": merged.selected,
        "candidate_pairs": pairs,
    }
    return {k: sections[k] for k in SECTION_ORDER}


def _same(explicit: Any, parsed: str | None) -> bool:
    """Whether parsed details may fill in: nothing explicit, or the same name."""
    return explicit is None or (parsed is not None and explicit.casefold() == parsed.casefold())


def _device_info(explicit: dict[str, Any], parsed: UserAgentInfo | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if parsed is not None:
        if _same(explicit.get("os"), parsed.os):
            out.update({"os": parsed.os, "os_version": parsed.os_version})
        out["is_mobile"] = parsed.is_mobile
    out = {k: v for k, v in out.items() if v is not None}
    return _ordered({**out, **explicit}, _DEVICE_INFO)


def _browser_metadata(
    explicit: dict[str, Any], user_agent: str | None, parsed: UserAgentInfo | None
) -> dict[str, Any]:
    out: dict[str, Any] = {"user_agent": user_agent}
    if parsed is not None and _same(explicit.get("browser"), parsed.browser):
        out.update(
            browser=parsed.browser, browser_version=parsed.browser_version, engine=parsed.engine
        )
    out = {k: v for k, v in out.items() if v is not None}
    return _ordered({**out, **explicit}, _BROWSER)


def _ip_information(merged: _Merged, ip_lookup: IpLookup) -> dict[str, Any]:
    """Explicit values over the lookup of the reported address (`ipv4`, which may be IPv6)."""
    address = merged.ip.get("ipv4") or merged.scalars.get("ip")
    found = ip_lookup.lookup(address) if address else {}
    out = {**_pick(found, _IP), **({"ipv4": address} if address else {}), **merged.ip}
    asn = {**_pick(found.get("asn"), _ASN), **merged.asn}
    if asn:
        out["asn"] = _ordered(asn, _ASN)
    return _ordered(out, {**_IP, "asn": None})


def parse_filters(value: str | None) -> set[str] | None:
    """The filters of a comma-separated `filters` value; None (everything) when absent or
    empty. Spaces around names and empty items are tolerated; unknown names raise
    ValueError listing the allowed values."""
    if value is None:
        return None
    names = {part.strip() for part in value.split(",") if part.strip()}
    if not names:
        return None
    unknown = sorted(names.difference(FILTERS))
    if unknown:
        shown = ", ".join(repr(name) for name in unknown)
        raise ValueError(
            f"filters: unknown value {shown}; use one or more of {', '.join(FILTERS)}, "
            "separated by commas"
        )
    return names


def select_sections(report: Mapping[str, Any], filters: set[str]) -> dict[str, Any]:
    """The parts of a `peer_report` ({metadata, quality, ...}) that `filters` select;
    sections not selected are omitted, and so is `metadata` when none of it is."""
    unknown = filters.difference(FILTERS)
    if unknown:
        raise ValueError(f"unknown filters {sorted(unknown)}; allowed: {', '.join(FILTERS)}")
    wanted = {key for name in filters for key in METADATA_SECTIONS.get(name, ())}
    out: dict[str, Any] = {}
    metadata = report.get("metadata")
    if wanted and isinstance(metadata, Mapping):
        out["metadata"] = {k: metadata[k] for k in SECTION_ORDER if k in wanted and k in metadata}
    if "quality_stats" in filters:
        out.update({k: v for k, v in report.items() if k != "metadata"})
    return out
