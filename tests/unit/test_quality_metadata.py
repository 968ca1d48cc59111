"""Peer report `metadata`: user agents, IP lookups, merging, filters, strict SDK validity."""

from __future__ import annotations

import ipaddress
import itertools
import struct
from pathlib import Path
from typing import Any

import pytest
from cloudflare._models import validate_type
from cloudflare.types.realtime_kit.session_get_participant_data_from_peer_id_response import (
    SessionGetParticipantDataFromPeerIDResponse,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from rtk_sessions.config import SettingsError
from rtk_sessions.quality.lookup import (
    CountryLookup,
    MmdbLookup,
    UserAgentInfo,
    ip_lookup_from_settings,
    parse_user_agent,
)
from rtk_sessions.quality.metadata import (
    FILTERS,
    SECTION_ORDER,
    build_metadata,
    parse_filters,
    select_sections,
)

T0 = 1_780_482_600_000  # 2026-06-03T10:30:00.000Z
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36"
)
FIREFOX_WIN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
SAFARI_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36"
)
EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91"
)
EDGE_LEGACY = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/70.0.3538.102 Safari/537.36 Edge/18.19582"
)
CHROME_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1"
)


# --- user agents ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (CHROME_MAC, UserAgentInfo("Chrome", "119.0.0.0", "Blink", "macOS", "10.15.7", False)),
        (FIREFOX_WIN, UserAgentInfo("Firefox", "121.0", "Gecko", "Windows", "10", False)),
        (SAFARI_IOS, UserAgentInfo("Mobile Safari", "17.1.2", "WebKit", "iOS", "17.1.2", True)),
        (
            CHROME_ANDROID,
            UserAgentInfo("Chrome Mobile", "120.0.6099.144", "Blink", "Android", "13", True),
        ),
        (EDGE, UserAgentInfo("Edge", "120.0.2210.91", "Blink", "Windows", "10", False)),
        (EDGE_LEGACY, UserAgentInfo("Edge", "18.19582", "EdgeHTML", "Windows", "10", False)),
        (
            CHROME_IOS,
            UserAgentInfo("Chrome Mobile iOS", "120.0.6099.119", "WebKit", "iOS", "17.1", True),
        ),
        (
            "Opera/9.80 (Windows NT 6.1; U; en) Presto/2.10.289 Version/12.00",
            UserAgentInfo("Opera", "12.00", "Presto", "Windows", "7", False),
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
            UserAgentInfo("IE", "11.0", "Trident", "Windows", "10", False),
        ),
        (
            "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/27.0.1453.116 Safari/537.36",
            UserAgentInfo("Chrome", "27.0.1453.116", "WebKit", "Windows", "7", False),
        ),
        (
            "RealtimeKit/1.0 CFNetwork/1474 Darwin/23.0.0",  # a native app: no browser engine
            UserAgentInfo("RealtimeKit", "1.0", None, "iOS", "17.0", True),
        ),
        ("totally-unknown agent string", UserAgentInfo(None, None, None, None, None, None)),
        ("", UserAgentInfo(None, None, None, None, None, None)),
    ],
)
def test_user_agents(ua: str, expected: UserAgentInfo) -> None:
    assert parse_user_agent(ua) == expected


def test_user_agent_parsing_is_cached_and_bounded() -> None:
    parse_user_agent(CHROME_MAC)
    hits = parse_user_agent.cache_info().hits
    assert parse_user_agent(CHROME_MAC).browser == "Chrome"
    assert parse_user_agent.cache_info().hits == hits + 1
    assert parse_user_agent(CHROME_MAC + " x" * 100_000).browser == "Chrome"


# --- IP lookups -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "country"),
    [
        ("8.8.8.8", "US"),
        ("2001:4860:4860::8888", "US"),
        ("::ffff:8.8.8.8", "US"),
        ("1.1.1.1", "AU"),
    ],
)
def test_country_lookup_of_public_addresses(ip: str, country: str) -> None:
    assert CountryLookup().lookup(ip) == {"country": country}


@pytest.mark.parametrize(
    "ip", ["10.0.0.1", "192.168.1.20", "127.0.0.1", "::1", "fe80::1", "203.0.113.21", "nope", ""]
)
def test_private_documentation_and_invalid_addresses_are_unknown(ip: str) -> None:
    assert CountryLookup().lookup(ip) == {}


def test_settings_choose_the_lookup(tmp_path: Path) -> None:
    assert isinstance(ip_lookup_from_settings(""), CountryLookup)
    with pytest.raises(SettingsError, match=r"RTK_GEOIP_MMDB=.*is not a file"):
        ip_lookup_from_settings(str(tmp_path / "GeoLite2-City.mmdb"))
    (tmp_path / "junk.mmdb").write_text("not a database")
    with pytest.raises(SettingsError, match="is not a MaxMind DB file"):
        ip_lookup_from_settings(str(tmp_path / "junk.mmdb"))


CITY = {
    "81.2.69.0/24": {
        "city": {"names": {"en": "London", "de": "London"}},
        "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
        "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
        "location": {"time_zone": "Europe/London", "latitude": 51.5},
    },
}
ASN = {
    "81.2.64.0/19": {
        "autonomous_system_number": 20712,
        "autonomous_system_organization": "Andrews",
    },
    "2001:4860::/32": {
        "autonomous_system_number": 15169,
        "autonomous_system_organization": "GOOGLE",
    },
}


def test_mmdb_lookup_merges_city_and_asn_databases(tmp_path: Path) -> None:
    city = write_mmdb(tmp_path / "city.mmdb", CITY)
    asn = write_mmdb(tmp_path / "asn.mmdb", ASN)
    lookup = ip_lookup_from_settings(f"{city}, {asn}")
    assert isinstance(lookup, MmdbLookup)
    assert lookup.lookup("81.2.69.160") == {
        "country": "GB",
        "city": "London",
        "region": "England",
        "timezone": "Europe/London",
        "org": "AS20712 Andrews",
        "asn": {"asn": "AS20712", "name": "Andrews", "route": "81.2.64.0/19"},
    }
    # IPv6, only in the ASN file: iptocc fills the country.
    assert lookup.lookup("2001:4860:4860::8888") == {
        "org": "AS15169 GOOGLE",
        "asn": {"asn": "AS15169", "name": "GOOGLE", "route": "2001:4860::/32"},
        "country": "US",
    }
    assert lookup.lookup("8.8.8.8") == {"country": "US"}
    assert lookup.lookup("10.1.2.3") == {}


def test_mmdb_lookup_reads_flat_ipinfo_style_records(tmp_path: Path) -> None:
    flat = {
        "8.8.8.0/24": {
            "country": "United States",
            "country_code": "US",
            "asn": "AS15169",
            "as_name": "Google LLC",
            "as_domain": "google.com",
        }
    }
    lookup = ip_lookup_from_settings(str(write_mmdb(tmp_path / "lite.mmdb", flat)))
    assert lookup.lookup("8.8.8.8") == {
        "country": "US",
        "org": "AS15169 Google LLC",
        "asn": {
            "asn": "AS15169",
            "name": "Google LLC",
            "domain": "google.com",
            "route": "8.8.8.0/24",
        },
    }


# --- building metadata ------------------------------------------------------------------------


class FakeLookup:
    """Answers from a table; records what it was asked."""

    def __init__(self, table: dict[str, dict[str, Any]]) -> None:
        self.table = table
        self.asked: list[str] = []

    def lookup(self, ip: str) -> dict[str, Any]:
        self.asked.append(ip)
        return self.table.get(ip, {})


def meta(at: int, event_id: str, **fields: Any) -> tuple[int, str, dict[str, Any]]:
    return at, "peer.metadata", {"id": event_id, "type": "peer.metadata", "peer_id": "p", **fields}


def event(at: int, event_id: str, name: str, **metadata: Any) -> tuple[int, str, dict[str, Any]]:
    body = {"id": event_id, "type": "peer.event", "peer_id": "p", "name": name}
    return at, "peer.event", body | ({"metadata": metadata} if metadata else {})


def build(events: list[tuple[int, str, dict[str, Any]]], **table: Any) -> dict[str, Any]:
    return build_metadata(events, ip_lookup=FakeLookup(table.get("table", {})))


def test_no_events_give_every_section_empty() -> None:
    assert build([]) == {
        "device_info": {},
        "browser_metadata": {},
        "native_metadata": {},
        "sdk_name": None,
        "sdk_type": None,
        "sdk_version": None,
        "room_view_type": None,
        "ip_information": {},
        "pc_metadata": [],
        "events": [],
        "audio_devices_updates": [],
        "video_devices_updates": [],
        "speaker_devices_updates": [],
        "selected_device_updates": [],
        "candidate_pairs": {"producing_transport": [], "consuming_transport": []},
    }
    assert tuple(build([])) == SECTION_ORDER


def test_latest_occurred_at_wins_for_scalars_whatever_the_input_order() -> None:
    events = [
        meta(T0 + 2000, "b", sdk_version="1.2.0", device_info={"cpus": 4}),
        meta(
            T0,
            "a",
            sdk_version="1.0.0",
            sdk_name="web-core",
            device_info={"cpus": 8, "os": "macOS"},
        ),
        meta(T0 + 1000, "c", sdk_version="1.1.0", native_metadata={"audio_encoder": "opus"}),
    ]
    for order in itertools.permutations(events):
        got = build(list(order))
        assert got["sdk_version"] == "1.2.0"
        assert got["sdk_name"] == "web-core"  # never overwritten
        assert got["device_info"] == {"cpus": 4, "os": "macOS"}  # merged field by field
        assert got["native_metadata"] == {"audio_encoder": "opus"}


def test_ties_at_the_same_instant_are_broken_by_event_id() -> None:
    events = [
        meta(T0, "evt-2", room_view_type="webinar"),
        meta(T0, "evt-1", room_view_type="groupCall"),
    ]
    assert build(events)["room_view_type"] == "webinar"
    assert build(events[::-1])["room_view_type"] == "webinar"


def test_lists_are_in_time_order_with_iso_timestamps() -> None:
    mic = {"device_id": "default", "kind": "audioinput", "label": "MacBook Pro Microphone"}
    cam = {"device_id": "cam1", "kind": "videoinput", "label": "FaceTime HD"}
    events = [
        meta(T0 + 3000, "m3", pc_metadata={"effective_network_type": "3g", "sdp": ["b"]}),
        meta(
            T0 + 1000,
            "m1",
            pc_metadata={"effective_network_type": "4g", "relay_connectivity": True},
        ),
        meta(T0 + 2000, "m2", devices_update={"kind": "video", "added": [cam], "removed": []}),
        meta(T0 + 500, "m0", devices_update={"kind": "audio", "added": [mic]}, selected_device=mic),
        meta(
            T0 + 4000, "m4", devices_update={"kind": "video", "removed": [cam]}, selected_device=cam
        ),
        event(T0 + 2500, "e2", "video_off"),
        event(T0 + 100, "e1", "precall_begin"),
        event(T0 + 5000, "e3", "tab_change", is_meetings_tab_active=False, count=2, note=None),
    ]
    got = build(events[::-1])
    assert got["pc_metadata"] == [
        {"effective_network_type": "4g", "relay_connectivity": True, "sdp": [],
         "timestamp": "2026-06-03T10:30:01.000Z"},
        {"effective_network_type": "3g", "sdp": ["b"], "timestamp": "2026-06-03T10:30:03.000Z"},
    ]  # fmt: skip
    assert got["audio_devices_updates"] == [
        {"timestamp": "2026-06-03T10:30:00.500Z", "added": [mic], "removed": []}
    ]
    assert [u["timestamp"][17:] for u in got["video_devices_updates"]] == ["02.000Z", "04.000Z"]
    assert got["video_devices_updates"][1] == {
        "timestamp": "2026-06-03T10:30:04.000Z", "added": [], "removed": [cam]
    }  # fmt: skip
    assert got["speaker_devices_updates"] == []
    assert [u["device"]["device_id"] for u in got["selected_device_updates"]] == ["default", "cam1"]
    assert got["events"] == [
        {"name": "precall_begin", "timestamp": "2026-06-03T10:30:00.100Z", "metadata": {}},
        {"name": "video_off", "timestamp": "2026-06-03T10:30:02.500Z", "metadata": {}},
        {"name": "tab_change", "timestamp": "2026-06-03T10:30:05.000Z",
         "metadata": {"is_meetings_tab_active": False, "count": 2, "note": None}},
    ]  # fmt: skip


def test_candidate_pairs_are_upserted_by_transport_and_candidate_ids() -> None:
    def pair(at: int, eid: str, transport: str, local: str, remote: str, **stats: Any) -> Any:
        fields = {
            "transport": transport,
            "local_candidate_id": local,
            "remote_candidate_id": remote,
        }
        return meta(at, eid, candidate_pair=fields | stats)

    events = [
        pair(
            T0,
            "c1",
            "producing",
            "L1",
            "R1",
            bytes_sent=100,
            nominated=False,
            local_candidate_port=5000,
        ),
        pair(T0 + 1000, "c2", "producing", "L1", "R1", bytes_sent=900, nominated=True),
        pair(T0 + 500, "c3", "producing", "L2", "R1", bytes_sent=7),
        pair(T0 + 200, "c4", "consuming", "L1", "R1", bytes_received=50),
    ]
    for order in itertools.permutations(events):
        got = build(list(order))["candidate_pairs"]
        assert got["producing_transport"] == [
            {"bytes_sent": 900, "local_candidate_id": "L1", "local_candidate_port": 5000,
             "nominated": True, "remote_candidate_id": "R1"},
            {"bytes_sent": 7, "local_candidate_id": "L2", "remote_candidate_id": "R1"},
        ]  # fmt: skip
        assert got["consuming_transport"] == [
            {"bytes_received": 50, "local_candidate_id": "L1", "remote_candidate_id": "R1"}
        ]


def test_user_agent_fills_browser_and_device_where_nothing_explicit() -> None:
    got = build([meta(T0, "a", user_agent=CHROME_MAC, device_info={"cpus": 8})])
    assert got["browser_metadata"] == {
        "browser": "Chrome",
        "browser_version": "119.0.0.0",
        "engine": "Blink",
        "user_agent": CHROME_MAC,
    }
    assert got["device_info"] == {
        "cpus": 8,
        "is_mobile": False,
        "os": "macOS",
        "os_version": "10.15.7",
    }


def test_explicit_browser_and_device_values_win_over_the_user_agent() -> None:
    got = build([
        meta(T0, "a", browser_metadata={"browser": "Arc", "webgl_support": True, "memory": 8}),
        meta(T0 + 1000, "b", user_agent=CHROME_MAC, device_info={"os": "Windows", "is_mobile": True}),
    ])  # fmt: skip
    # A different explicit browser/OS keeps the parse's version and engine out of it.
    assert got["browser_metadata"] == {
        "browser": "Arc",
        "user_agent": CHROME_MAC,
        "webgl_support": True,
    }
    assert got["device_info"] == {"is_mobile": True, "os": "Windows"}
    same = build([meta(T0, "a", user_agent=SAFARI_IOS, browser_metadata={"browser_version": "17"})])
    assert same["browser_metadata"]["browser_version"] == "17"
    assert same["browser_metadata"]["engine"] == "WebKit"


def test_explicit_user_agent_in_browser_metadata_is_the_one_parsed() -> None:
    got = build(
        [meta(T0, "a", user_agent=CHROME_MAC, browser_metadata={"user_agent": FIREFOX_WIN})]
    )
    assert got["browser_metadata"]["browser"] == "Firefox"
    assert got["browser_metadata"]["user_agent"] == FIREFOX_WIN


def test_ip_is_looked_up_and_explicit_values_win() -> None:
    table = {
        "81.2.69.160": {"country": "GB", "city": "London", "asn": {"asn": "AS20712", "name": "A"}}
    }
    lookup = FakeLookup(table)
    got = build_metadata(
        [
            meta(
                T0,
                "a",
                ip="81.2.69.160",
                ip_information={"city": "Croydon", "asn": {"domain": "a.net"}},
            )
        ],
        ip_lookup=lookup,
    )
    assert got["ip_information"] == {
        "city": "Croydon",
        "country": "GB",
        "ipv4": "81.2.69.160",
        "asn": {"asn": "AS20712", "domain": "a.net", "name": "A"},
    }
    assert lookup.asked == ["81.2.69.160"]


def test_ipv6_goes_into_ipv4_and_the_reported_address_is_the_one_looked_up() -> None:
    assert build([meta(T0, "a", ip="2001:4860:4860::8888")])["ip_information"] == {
        "ipv4": "2001:4860:4860::8888"
    }
    real = build_metadata([meta(T0, "a", ip="2001:4860:4860::8888")], ip_lookup=CountryLookup())
    assert real["ip_information"] == {"country": "US", "ipv4": "2001:4860:4860::8888"}
    lookup = FakeLookup({})
    build_metadata(
        [meta(T0, "a", ip="8.8.8.8"), meta(T0 + 1, "b", ip_information={"ipv4": "1.1.1.1"})],
        ip_lookup=lookup,
    )
    assert lookup.asked == ["1.1.1.1"]


def test_asn_given_as_a_bare_number_or_string() -> None:
    assert build([meta(T0, "a", ip_information={"asn": 15169})])["ip_information"] == {
        "asn": {"asn": "AS15169"}
    }
    assert build([meta(T0, "a", ip_information={"asn": "AS13335"})])["ip_information"] == {
        "asn": {"asn": "AS13335"}
    }


def test_values_of_the_wrong_type_and_unknown_fields_are_left_out() -> None:
    got = build([
        meta(T0, "a", device_info={"cpus": True, "os": None, "is_mobile": "no"},
             browser_metadata={"webgl_support": "true", "engine": 3, "extra": "x"},
             pc_metadata={"sdp": ["v=0", {"x": 1}], "turn_connectivity": None},
             candidate_pair={"transport": "producing", "bytes_sent": "12", "nominated": 1}),
        event(T0, "e", "ice_connected", nested={"a": 1}, listed=[1], ok=1.5),
    ])  # fmt: skip
    assert got["device_info"] == {}
    assert got["browser_metadata"] == {}
    assert got["pc_metadata"] == [{"sdp": ["v=0"], "timestamp": "2026-06-03T10:30:00.000Z"}]
    assert got["candidate_pairs"]["producing_transport"] == [{}]
    assert got["events"][0]["metadata"] == {"ok": 1.5}


def test_other_event_types_are_ignored() -> None:
    stats = (T0, "peer.stats", {"id": "s", "samples": []})
    assert build([stats]) == build([])


# --- strict SDK validation --------------------------------------------------------------------


def sdk_body(metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "success": True,
        "data": {
            "participant": {
                "id": "peer-1",
                "session_id": "sess-1",
                "joined_at": "2026-06-03T10:30:00.000Z",
                "peer_report": {"metadata": metadata, "quality": {}},
            }
        },
    }


def full_metadata() -> dict[str, Any]:
    mic = {"device_id": "default", "kind": "audioinput", "label": "Mic"}
    spk = {"device_id": "spk", "kind": "audiooutput", "label": "Speakers"}
    pair = {
        "transport": "producing", "nominated": True, "current_round_trip_time": 0.009,
        "total_round_trip_time": 4.055, "bytes_received": 33950, "bytes_sent": 200996,
        "available_outgoing_bitrate": 54858, "available_incoming_bitrate": 1e6,
        "last_packet_received_timestamp": 1702561000121, "last_packet_sent_timestamp": 1702561000139,
        "local_candidate_id": "IKf7CPY3N", "remote_candidate_id": "IAEFfn0BW",
        "bytes_discarded_on_send": 0, "packets_sent": 3203, "packets_received": 692,
        "packets_discarded_on_send": 0, "local_candidate_type": "prflx",
        "local_candidate_address": "203.0.113.21", "local_candidate_port": 64799,
        "local_candidate_protocol": "udp", "local_candidate_network_type": "wifi",
        "local_candidate_related_address": "192.168.0.119", "local_candidate_related_port": 64799,
        "local_candidate_url": "stun:stun.example.com", "remote_candidate_type": "host",
        "remote_candidate_address": "198.51.100.161", "remote_candidate_port": 46252,
        "remote_candidate_protocol": "udp", "remote_candidate_url": "turn:turn.example.com",
    }  # fmt: skip
    events = [
        meta(T0, "m1", user_agent=CHROME_MAC, ip="81.2.69.160", sdk_name="web-core",
             sdk_type="web", sdk_version="1.21.1", room_view_type="groupCall",
             device_info={"cpus": 8}, browser_metadata={"webgl_support": True},
             native_metadata={"audio_encoder": "opus", "video_encoder": "VP8"},
             ip_information={"org": "Example ISP"},
             pc_metadata={"effective_network_type": "4g", "reflexive_connectivity": False,
                          "relay_connectivity": True, "turn_connectivity": True, "sdp": ["v=0"]},
             devices_update={"kind": "audio", "added": [mic], "removed": []},
             selected_device=mic, candidate_pair=pair),
        meta(T0 + 1, "m2", devices_update={"kind": "video", "added": [], "removed": [mic]},
             candidate_pair={**pair, "transport": "consuming"}),
        meta(T0 + 2, "m3", devices_update={"kind": "speaker", "added": [spk]}),
        event(T0 + 3, "e1", "meeting_view_backgrounded", is_meetings_tab_active=False, n=1.5),
    ]  # fmt: skip
    lookup = FakeLookup({
        "81.2.69.160": {"country": "GB", "city": "London", "region": "England",
                        "timezone": "Europe/London",
                        "asn": {"asn": "AS20712", "name": "Andrews", "domain": "a.net",
                                "route": "81.2.64.0/19", "type": "isp"}},
    })  # fmt: skip
    return build_metadata(events, ip_lookup=lookup)


def test_a_report_with_every_section_populated_is_strictly_valid() -> None:
    metadata = full_metadata()
    for name in SECTION_ORDER:
        assert metadata[name], f"{name} should be populated"
    parsed = validate_type(
        type_=SessionGetParticipantDataFromPeerIDResponse, value=sdk_body(metadata)
    )
    assert parsed.data and parsed.data.participant and parsed.data.participant.peer_report
    got = parsed.data.participant.peer_report.metadata
    assert got is not None and got.ip_information and got.ip_information.asn
    assert got.ip_information.asn.route == "81.2.64.0/19"
    assert got.browser_metadata and got.browser_metadata.engine == "Blink"
    assert got.candidate_pairs and got.candidate_pairs.consuming_transport
    assert (
        got.candidate_pairs.consuming_transport[0].remote_candidate_url == "turn:turn.example.com"
    )
    assert got.events and got.events[0].metadata == {"is_meetings_tab_active": False, "n": 1.5}


def test_an_empty_report_is_strictly_valid_and_sections_are_objects() -> None:
    parsed = validate_type(
        type_=SessionGetParticipantDataFromPeerIDResponse, value=sdk_body(build([]))
    )
    assert parsed.data and parsed.data.participant and parsed.data.participant.peer_report
    got = parsed.data.participant.peer_report.metadata
    assert got is not None and got.device_info is not None and got.device_info.os is None


def test_strict_validation_would_catch_nested_event_metadata() -> None:
    bad = build([])
    bad["events"] = [{"name": "x", "timestamp": "2026-06-03T10:30:00.000Z", "metadata": {"a": {}}}]
    with pytest.raises(Exception, match="metadata"):
        validate_type(type_=SessionGetParticipantDataFromPeerIDResponse, value=sdk_body(bad))


# --- filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (",", None),
        ("events", {"events"}),
        ("device_info,ip_information,events", {"device_info", "ip_information", "events"}),
        (" quality_stats , events,", {"quality_stats", "events"}),
        (",".join(FILTERS), set(FILTERS)),
    ],
)
def test_parse_filters(value: str | None, expected: set[str] | None) -> None:
    assert parse_filters(value) == expected


def test_unknown_filters_name_the_allowed_values() -> None:
    with pytest.raises(ValueError) as info:
        parse_filters("events,device")
    message = str(info.value)
    assert "'device'" in message
    assert all(name in message for name in FILTERS)
    with pytest.raises(ValueError, match="allowed"):
        select_sections({}, {"nope"})


REPORT: dict[str, Any] = {
    "metadata": full_metadata(),
    "quality": {"audio_producer": []},
    "connections": [],
}


@pytest.mark.parametrize(
    ("filters", "metadata_keys", "has_quality"),
    [
        ({"device_info"}, [
            "device_info", "browser_metadata", "native_metadata", "sdk_name", "sdk_type",
            "sdk_version", "room_view_type", "audio_devices_updates", "video_devices_updates",
            "speaker_devices_updates", "selected_device_updates",
        ], False),
        ({"ip_information"}, ["ip_information"], False),
        ({"precall_network_information"}, ["pc_metadata", "candidate_pairs"], False),
        ({"events"}, ["events"], False),
        ({"quality_stats"}, None, True),
        ({"events", "quality_stats", "ip_information"}, ["ip_information", "events"], True),
        (set(FILTERS), list(SECTION_ORDER), True),
    ],
)  # fmt: skip
def test_select_sections(
    filters: set[str], metadata_keys: list[str] | None, has_quality: bool
) -> None:
    got = select_sections(REPORT, filters)
    if metadata_keys is None:
        assert "metadata" not in got
    else:
        assert list(got["metadata"]) == metadata_keys
        assert all(got["metadata"][k] == REPORT["metadata"][k] for k in metadata_keys)
    assert ("quality" in got) is has_quality
    assert ("connections" in got) is has_quality  # extra call statistics go with quality


# --- order independence -----------------------------------------------------------------------

_WORDS = st.sampled_from(["a", "b", "c"])
_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "sdk_version": _WORDS,
        "user_agent": st.sampled_from([CHROME_MAC, FIREFOX_WIN, SAFARI_IOS]),
        "ip": st.sampled_from(["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"]),
        "device_info": st.fixed_dictionaries(
            {}, optional={"cpus": st.integers(1, 4), "os": _WORDS}
        ),
        "pc_metadata": st.fixed_dictionaries({}, optional={"effective_network_type": _WORDS}),
        "selected_device": st.fixed_dictionaries({"device_id": _WORDS}),
        "devices_update": st.fixed_dictionaries(
            {"kind": st.sampled_from(["audio", "video", "speaker"])},
            optional={"added": st.lists(st.fixed_dictionaries({"label": _WORDS}), max_size=2)},
        ),
        "candidate_pair": st.fixed_dictionaries(
            {
                "transport": st.sampled_from(["producing", "consuming"]),
                "local_candidate_id": _WORDS,
            },
            optional={"bytes_sent": st.integers(0, 9), "nominated": st.booleans()},
        ),
    },
)


@st.composite
def peer_events(draw: st.DrawFn) -> list[tuple[int, str, dict[str, Any]]]:
    keys = draw(
        st.lists(st.tuples(st.integers(0, 5), st.sampled_from("xyz")), unique=True, max_size=12)
    )
    out = []
    for offset, eid in keys:
        at, event_id = T0 + offset, f"{eid}{offset}"
        if draw(st.booleans()):
            out.append(event(at, event_id, draw(_WORDS), k=draw(_WORDS)))
        else:
            out.append(meta(at, event_id, **draw(_FIELDS)))
    return out


@settings(max_examples=200, deadline=None)
@given(events=peer_events(), data=st.data())
def test_building_is_independent_of_event_order(
    events: list[tuple[int, str, dict[str, Any]]], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(events))
    lookup = CountryLookup()
    assert build_metadata(shuffled, ip_lookup=lookup) == build_metadata(events, ip_lookup=lookup)


# --- a minimal MaxMind DB writer (IPv6 tree, 24-bit records), enough for the lookups above ----

_MARKER = b"\xab\xcd\xefMaxMind.com"


class _U16(int):
    pass


class _U64(int):
    pass


def _control(kind: int, size: int) -> bytes:
    head, extra = (size, b"") if size < 29 else (29, bytes([size - 29]))
    if kind <= 7:
        return bytes([(kind << 5) | head]) + extra
    return bytes([head, kind - 7]) + extra  # extended type


def _encode(value: Any) -> bytes:
    if isinstance(value, str):
        raw = value.encode()
        return _control(2, len(raw)) + raw
    if isinstance(value, bool):
        return _control(14, int(value))
    if isinstance(value, int):
        kind = 5 if isinstance(value, _U16) else 9 if isinstance(value, _U64) else 6
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return _control(kind, len(raw)) + raw
    if isinstance(value, float):
        return _control(3, 8) + struct.pack(">d", value)
    if isinstance(value, dict):
        return _control(7, len(value)) + b"".join(_encode(k) + _encode(v) for k, v in value.items())
    assert isinstance(value, list)
    return _control(11, len(value)) + b"".join(_encode(v) for v in value)


def _bits(network: str) -> list[int]:
    net = ipaddress.ip_network(network)
    length = net.prefixlen + (96 if net.version == 4 else 0)  # IPv4 lives at ::a.b.c.d
    return [(int(net.network_address) >> (127 - i)) & 1 for i in range(length)]


def write_mmdb(path: Path, records: dict[str, dict[str, Any]]) -> Path:
    nodes: list[list[Any]] = [[None, None]]
    data = b""
    for network, record in records.items():
        offset, data = len(data), data + _encode(record)
        bits, node = _bits(network), 0
        for bit in bits[:-1]:
            if nodes[node][bit] is None:
                nodes.append([None, None])
                nodes[node][bit] = ("node", len(nodes) - 1)
            node = nodes[node][bit][1]
        nodes[node][bits[-1]] = ("data", offset)
    count = len(nodes)

    def record_value(entry: Any) -> int:
        if entry is None:
            return count
        return int(entry[1] if entry[0] == "node" else count + 16 + entry[1])

    tree = b"".join(
        record_value(left).to_bytes(3, "big") + record_value(right).to_bytes(3, "big")
        for left, right in nodes
    )
    metadata = {
        "node_count": count,
        "record_size": _U16(24),
        "ip_version": _U16(6),
        "database_type": "Test",
        "languages": ["en"],
        "binary_format_major_version": _U16(2),
        "binary_format_minor_version": _U16(0),
        "build_epoch": _U64(1_700_000_000),
        "description": {"en": "test"},
    }
    path.write_bytes(tree + b"\x00" * 16 + data + _MARKER + _encode(metadata))
    return path
