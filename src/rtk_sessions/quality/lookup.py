"""Adapters for peer metadata: user-agent parsing and IP address lookup.

Both work offline. `parse_user_agent` uses ua-parser's bundled uap-core rules; the
`CountryLookup` answers from the registry data inside the iptocc wheel and doubles as the
test fake. `MmdbLookup` adds city, region, time zone and ASN from MaxMind DB files
(`RTK_GEOIP_MMDB`).
"""

from __future__ import annotations

import functools
import ipaddress
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import iptocc
import maxminddb
import ua_parser

from rtk_sessions.config import SettingsError

MAX_UA_CHARS = 2048  # real user agents are far shorter; caps the regex work per string
_MMDB_MARKER = b"\xab\xcd\xefMaxMind.com"
_MMDB_TAIL = 128 * 1024  # the metadata section sits in the file's last 128 KiB

# Rendering engine by uap-core browser family (see docs/peer-metadata.md).
_BLINK = frozenset({
    "Chrome Mobile", "Chrome Mobile WebView", "HeadlessChrome", "Samsung Internet", "Vivaldi",
    "Brave", "Yandex Browser", "Electron", "Edge Mobile", "Opera Mobile", "Opera GX",
    "Opera Neon", "Opera Touch", "Whale", "Amazon Silk", "Coc Coc", "Iron", "Comodo Dragon",
    "Avast Secure Browser", "Huawei Browser", "MiuiBrowser", "Oculus Browser", "Qt Web Engine",
    "Microsoft Teams", "Slack Desktop Client", "DuckDuckGo Mobile", "Mint Browser",
})  # fmt: skip
_GECKO = frozenset({
    "Firefox", "Firefox Mobile", "Firefox Beta", "Firefox Alpha", "Firefox Nightly",
    "Iceweasel", "SeaMonkey", "Waterfox", "Thunderbird", "Basilisk", "Pale Moon", "Wolvic Browser",
})  # fmt: skip
_WEBKIT = frozenset({
    "Safari", "Mobile Safari", "Mobile Safari UI/WKWebView", "WebKit Nightly", "Epiphany",
    "Chrome Mobile iOS", "Firefox iOS", "Opera Coast", "Apple Mail", "Konqueror",
})  # fmt: skip
_TRIDENT = frozenset({"IE", "IE Mobile", "IE Large Screen"})
# Families whose engine changed with a major version: (family, first version, new, old).
_SWITCHED = {
    "Chrome": (28, "Blink", "WebKit"),
    "Chromium": (28, "Blink", "WebKit"),
    "Edge": (79, "Blink", "EdgeHTML"),
    "Opera": (15, "Blink", "Presto"),
}
_APPLE_MOBILE_OS = frozenset({"iOS", "iPadOS", "WatchOS"})  # every browser there uses WebKit
_MOBILE_OS = _APPLE_MOBILE_OS | {
    "Android", "Windows Phone", "Windows Mobile", "BlackBerry OS", "BlackBerry Tablet OS",
    "KaiOS", "Firefox OS", "Symbian OS", "Symbian^3", "Symbian^3 Anna", "Symbian^3 Belle",
    "Nokia Series 40", "Nokia Series 30 Plus", "webOS", "Tizen", "Sailfish", "HarmonyOS",
}  # fmt: skip
_DESKTOP_OS = frozenset({
    "Windows", "Mac OS X", "Mac OS", "Linux", "Ubuntu", "Chrome OS", "Fedora", "Debian",
    "FreeBSD", "OpenBSD", "NetBSD", "Solaris", "Red Hat", "Gentoo", "SUSE", "Mint",
})  # fmt: skip
_MOBILE_DEVICES = frozenset({
    "iPhone", "iPad", "iPod", "iOS-Device", "Generic Smartphone", "Generic Tablet",
    "Generic Feature Phone", "Kindle", "Kindle Fire",
})  # fmt: skip
_OS_NAMES = {"Mac OS X": "macOS", "Mac OS": "macOS"}


@dataclass(frozen=True)
class UserAgentInfo:
    """What a user-agent string says; `None` where it says nothing."""

    browser: str | None
    browser_version: str | None
    engine: str | None
    os: str | None
    os_version: str | None
    is_mobile: bool | None


def _version(*parts: str | None) -> str | None:
    taken: list[str] = []
    for part in parts:
        if not part:
            break
        taken.append(part)
    return ".".join(taken) or None


def _major(version: str | None) -> int:
    head = (version or "").split(".")[0]
    return int(head) if head.isdigit() else 0


def _engine_by_tokens(ua: str) -> str | None:
    """The engine from the product tokens, for families the table does not know."""
    for token, engine in (("Trident/", "Trident"), ("Edge/", "EdgeHTML"), ("Presto/", "Presto")):
        if token in ua:
            return engine
    if "Chrome/" in ua:
        return "Blink" if _major(ua.split("Chrome/")[1]) >= 28 else "WebKit"
    if "AppleWebKit/" in ua:
        return "WebKit"
    return "Gecko" if "Gecko/" in ua else None


def _engine(family: str, version: str | None, os_family: str | None, ua: str) -> str | None:
    if os_family in _APPLE_MOBILE_OS and "AppleWebKit/" in ua:  # not native apps' agents
        return "WebKit"
    if family in _SWITCHED:
        first, new, old = _SWITCHED[family]
        return new if _major(version) >= first else old
    for families, engine in ((_BLINK, "Blink"), (_GECKO, "Gecko"), (_WEBKIT, "WebKit")):
        if family in families:
            return engine
    return "Trident" if family in _TRIDENT else _engine_by_tokens(ua)


def _is_mobile(os_family: str | None, device: str | None, ua: str) -> bool | None:
    if os_family in _MOBILE_OS or device in _MOBILE_DEVICES:
        return True
    if os_family in _DESKTOP_OS or device == "Mac":
        return False
    return True if "Mobi" in ua else None


@functools.lru_cache(maxsize=4096)
def parse_user_agent(ua: str) -> UserAgentInfo:
    """Browser, version, engine, OS and mobility from a user-agent string (cached)."""
    ua = ua[:MAX_UA_CHARS]
    result = ua_parser.parse(ua)
    agent, system, device = result.user_agent, result.os, result.device
    os_family = system.family if system and system.family != "Other" else None
    browser = agent.family if agent and agent.family != "Other" else None
    version = _version(agent.major, agent.minor, agent.patch, agent.patch_minor) if agent else None
    os_version = (
        _version(system.major, system.minor, system.patch, system.patch_minor)
        if system and os_family
        else None
    )
    device_family = device.family if device and device.family != "Other" else None
    return UserAgentInfo(
        browser=browser,
        browser_version=version if browser else None,
        engine=_engine(browser, version, os_family, ua) if browser else None,
        os=_OS_NAMES.get(os_family, os_family) if os_family else None,
        os_version=os_version,
        is_mobile=_is_mobile(os_family, device_family, ua),
    )


class IpLookup(Protocol):
    """Turns an IP address into what is known about where it is."""

    def lookup(self, ip: str) -> dict[str, Any]:
        """A subset of `ip_information` (`country`, `city`, `region`, `timezone`, `org`,
        `asn{asn, name, domain, route}`) without `ipv4`; `{}` for an unknown, private or
        invalid address."""
        ...


def public_address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address if it is a valid, globally routable one (IPv4-mapped IPv6 unwrapped)."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr if addr.is_global and not addr.is_multicast else None


class CountryLookup:
    """Country only, from the regional registries' allocations bundled in iptocc."""

    def lookup(self, ip: str) -> dict[str, Any]:
        addr = public_address(ip)
        code = iptocc.country_code(str(addr)) if addr is not None else None
        return {"country": code} if code else {}


class MmdbLookup:
    """City, region, time zone, organisation and ASN from MaxMind DB files.

    Understands GeoIP2/GeoLite2 City, Country and ASN databases and flat ones in the IPinfo
    style (`country_code`, `asn`, `as_name`, `as_domain`). With several files the first one
    that knows a field wins; iptocc fills a missing country. Files open on first use.
    """

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = tuple(paths)
        self._readers: list[maxminddb.Reader] | None = None
        self._lock = threading.Lock()
        self._countries = CountryLookup()

    def _open(self) -> list[maxminddb.Reader]:
        with self._lock:
            if self._readers is None:
                self._readers = [_open_reader(path) for path in self.paths]
            return self._readers

    def lookup(self, ip: str) -> dict[str, Any]:
        addr = public_address(ip)
        if addr is None:
            return {}
        info: dict[str, Any] = {}
        for reader in self._readers if self._readers is not None else self._open():
            try:
                record, prefix_len = reader.get_with_prefix_len(addr)
            except ValueError:  # an IPv6 address in an IPv4-only database
                continue
            if isinstance(record, dict):
                route = ipaddress.ip_network(f"{addr}/{prefix_len}", strict=False)
                _fill(info, record_facts(record, str(route)))
        if "country" not in info:
            info.update(self._countries.lookup(str(addr)))
        return info


def _open_reader(path: Path) -> maxminddb.Reader:
    try:
        return maxminddb.open_database(str(path))
    except (OSError, maxminddb.InvalidDatabaseError) as exc:
        raise SettingsError(f"RTK_GEOIP_MMDB: cannot read {path}: {exc}") from exc


def _fill(info: dict[str, Any], facts: dict[str, Any]) -> None:
    """Adds what `info` does not know yet (the first database to know a field wins)."""
    for key, value in facts.items():
        if key == "asn":
            for asn_key, asn_value in value.items():
                info.setdefault("asn", {}).setdefault(asn_key, asn_value)
        else:
            info.setdefault(key, value)


def _text(value: Any, *keys: str) -> str | None:
    """The non-empty string at `value[keys[0]][keys[1]]...`, else None."""
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, str) and value else None


def _country(record: Mapping[str, Any]) -> str | None:
    """GeoIP2 `country.iso_code`, IPinfo `country_code`, or a two-letter `country`."""
    flat = _text(record.get("country"))
    code = (
        _text(record.get("country"), "iso_code")
        or _text(record.get("country_code"))
        or (flat if flat and len(flat) == 2 else None)
    )
    return code.upper() if code and len(code) == 2 else None


def record_facts(record: Mapping[str, Any], network: str) -> dict[str, Any]:
    """The `ip_information` fields in one MMDB record (GeoIP2 or IPinfo layout)."""
    subdivisions = record.get("subdivisions")
    region = (
        _text(subdivisions[0], "names", "en")
        if isinstance(subdivisions, list) and subdivisions
        else _text(record.get("region"))
    )
    facts: dict[str, Any] = {
        "country": _country(record),
        "city": _text(record.get("city"), "names", "en") or _text(record.get("city")),
        "region": region,
        "timezone": _text(record.get("location"), "time_zone") or _text(record.get("timezone")),
        "org": _text(record.get("organization")) or _text(record.get("isp")),
    }
    asn = _asn_facts(record, network)
    if asn:
        facts["asn"] = asn
        name = asn.get("name")
        facts["org"] = facts["org"] or (f"{asn['asn']} {name}" if name else None)
    return {k: v for k, v in facts.items() if v is not None}


def _asn_facts(record: Mapping[str, Any], network: str) -> dict[str, str]:
    number = record.get("autonomous_system_number", record.get("asn"))
    if isinstance(number, int) and not isinstance(number, bool):
        number = f"AS{number}"
    if not isinstance(number, str) or not number:
        return {}
    facts = {
        "asn": number,
        "name": _text(record.get("autonomous_system_organization")) or _text(record.get("as_name")),
        "domain": _text(record.get("as_domain")),
        "type": _text(record.get("as_type")),
        "route": network,
    }
    return {k: v for k, v in facts.items() if v is not None}


def _check_mmdb(raw: str, path: Path) -> None:
    if not path.is_file():
        raise SettingsError(
            f"RTK_GEOIP_MMDB={raw!r}: {path} is not a file; give the path of a MaxMind DB "
            "(.mmdb) file such as GeoLite2-City.mmdb, or leave it empty for country-only lookups"
        )
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - _MMDB_TAIL))
        if _MMDB_MARKER not in handle.read():
            raise SettingsError(f"RTK_GEOIP_MMDB={raw!r}: {path} is not a MaxMind DB file")


def ip_lookup_from_settings(mmdb_path: str) -> IpLookup:
    """`CountryLookup` for `""`; else an `MmdbLookup` over the comma-separated files, which are
    checked now (missing or not an MMDB → `SettingsError`) and opened on first use."""
    raw = mmdb_path
    paths = [Path(p.strip()).expanduser() for p in raw.split(",") if p.strip()]
    if not paths:
        return CountryLookup()
    for path in paths:
        _check_mmdb(raw, path)
    return MmdbLookup(paths)
