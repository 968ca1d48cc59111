"""Who a live rtcstats stream is, from what its socket and its first lines say (pure).

Three client families share the endpoint; the subprotocol the client offers tells them apart
(docs/rtcstats-live.md). A stream becomes telemetry of one peer in one meeting:
a signed stream token names both; otherwise the query (`meeting_id`, `peer_id`), or the
client's own identity lines (Jitsi's `identity`, the legacy client's `identity` line or its
`rtcStats*Id` constraints) do.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from rtk_sessions.ingest.fields import id_like

PREFIX = "/ingest/v1/rtcstats"
CREDENTIAL_SEGMENT = "t"  # /ingest/v1/rtcstats/t/<credential>/…
MASK = "obfuscated"  # what rtcstats-server writes in place of a token, kept in dumps
STATS_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_JITSI_SUFFIXES = ("_STANDARD", "_LEGACY", "_JVB", "_JICOFO", "_JIGASI", "_JIBRI")
_BACKEND_SUFFIXES = ("_JVB", "_JICOFO", "_JIGASI", "_JIBRI")
_CHECK_ID, _CHECK_PEER = id_like(), id_like(peer=True)


class Family(enum.Enum):
    """The client family, named as stored (`rtcstats_streams.family`)."""

    RTCSTATS = "rtcstats"  # rtcstats/rtcstats rtcstats-js: subprotocol rtcstats#N
    JITSI = "jitsi"  # @jitsi/rtcstats and Jitsi backends: envelopes per statsSessionId
    LEGACY = "legacy"  # fippo/rtcstats 2.0: raw arrays


def family_of(subprotocol: str | None) -> Family:
    """By the first offered subprotocol; none or an unknown one means the legacy client."""
    if subprotocol and subprotocol.startswith("rtcstats#"):
        return Family.RTCSTATS
    if subprotocol and subprotocol.upper().endswith(_JITSI_SUFFIXES):
        return Family.JITSI
    return Family.LEGACY


def client_type(subprotocol: str | None) -> str:
    """jitsi/rtcstats-server's `clientType` for a Jitsi subprotocol."""
    upper = (subprotocol or "").upper()
    for suffix in _BACKEND_SUFFIXES:
        if upper.endswith(suffix):
            return suffix[1:]
    return "RTCSTATS_CLIENT"


@dataclass(frozen=True)
class Located:
    """Where the credential came from, and the path and query with it masked."""

    credential: str | None
    where: str  # "path", "query", "header" or "" when none
    path: str  # below PREFIX, credential masked, e.g. "/t/obfuscated/room"
    query: str  # raw query, rtcstats-token masked


def locate_credential(path: str, query: str, authorization: str | None) -> Located:
    """The credential a socket carries: in the path (`/t/<credential>`), then in the
    `rtcstats-token` query value, then in `Authorization: Bearer`."""
    rest = path[len(PREFIX) :] if path.startswith(PREFIX) else path
    credential, where = None, ""
    segments = rest.split("/")
    if len(segments) > 2 and segments[1] == CREDENTIAL_SEGMENT:
        credential, where = unquote(segments[2]), "path"
        segments[2] = MASK
    pairs = query.split("&") if query else []
    masked = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if unquote(name) == "rtcstats-token" and sep:
            if credential is None:
                credential, where = unquote(value.replace("+", " ")), "query"
            pair = f"{name}={MASK}"
        masked.append(pair)
    if credential is None and authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            credential, where = value.strip(), "header"
    return Located(
        credential or None, where if credential else "", "/".join(segments), "&".join(masked)
    )


def query_values(query: str) -> dict[str, str]:
    """The query's values by name (the last of a repeated name wins)."""
    return dict(parse_qsl(query, keep_blank_values=True))


def page_segment(path: str) -> str | None:
    """The last non-empty path segment below the credential: Jitsi's meetingFqn."""
    segments = [s for s in path.split("/") if s]
    if len(segments) >= 2 and segments[0] == CREDENTIAL_SEGMENT:
        segments = segments[2:]
    return unquote(segments[-1]) if segments else None


@dataclass(frozen=True)
class Who:
    """The meeting and peer a stream's telemetry belongs to, and how the client names its
    user (kept in the stream row only)."""

    meeting_id: str
    peer_id: str
    user: str | None = None


def checked_who(meeting: Any, peer: Any, user: Any = None) -> Who | None:
    """A Who when both ids are valid ids of the ingest API, else None."""
    if not isinstance(meeting, str) or not isinstance(peer, str):
        return None
    if _CHECK_ID(meeting, 0) or _CHECK_PEER(peer, 0):
        return None
    label = user if isinstance(user, str) and 0 < len(user) <= 256 else None
    return Who(meeting, peer, label)


def who_from_query(values: dict[str, str]) -> Who | None:
    return checked_who(values.get("meeting_id"), values.get("peer_id"), values.get("user"))


def who_from_jitsi(identity: Any, meeting_fqn: str | None) -> Who | None:
    """Jitsi's identity (the browser's `data[2]` or a backend's object): `confName` (else the
    URL's meetingFqn) is the meeting, `endpointId` the peer, `displayName` the user."""
    if not isinstance(identity, dict):
        return None
    meeting = identity.get("confName") or meeting_fqn
    return checked_who(meeting, identity.get("endpointId"), identity.get("displayName"))


def who_from_legacy(method: str, value: Any) -> Who | None:
    """The legacy client's `identity` line (`{user, conference}`, or `{peerId, …}`) or its
    PeerConnection constraints `{optional: [{rtcStatsPeerId}, {rtcStatsConferenceId}, …]}`."""
    if not isinstance(value, dict):
        return None
    if method == "identity":
        peer = value.get("peerId") or value.get("user")
        return checked_who(value.get("conference"), peer, value.get("user"))
    if method == "constraints" and isinstance(value.get("optional"), list):
        merged: dict[str, Any] = {}
        for item in value["optional"]:
            if isinstance(item, dict):
                merged.update(item)
        return checked_who(
            merged.get("rtcStatsConferenceId"),
            merged.get("rtcStatsPeerId"),
            merged.get("rtcStatsClientId"),
        )
    return None


def client_address(address: str | None, mode: str) -> str | None:
    """The client's address as RTK_RTCSTATS_CLIENT_IP wants it kept: whole, truncated to its
    /24 (IPv4) or /48 (IPv6) network, or not at all."""
    if address is None or mode == "drop":
        return None
    if mode == "keep":
        return address
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    bits = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False).network_address)


def recorded_url(path: str, query: str) -> str:
    """The path and query as a dump records them: PREFIX + masked path (+ masked query)."""
    shown = PREFIX + quote(unquote(path), safe="/@:+,;=-._~")
    return f"{shown}?{query}" if query else shown
