"""Live rtcstats, pure parts: the family by subprotocol, where the credential is and how the
recorded path masks it, who a stream is, client address truncation, stream tokens."""

from __future__ import annotations

import jwt
import pytest

from rtk_sessions.collector.identity import (
    Family,
    Who,
    client_address,
    client_type,
    family_of,
    locate_credential,
    page_segment,
    recorded_url,
    who_from_jitsi,
    who_from_legacy,
)
from rtk_sessions.collector.tokens import (
    TokenRefused,
    looks_like_jwt,
    mint,
    unverified_app,
    verify,
)
from rtk_sessions.kit.redact import redact

SECRET = "s" * 64
NOW = 1_760_000_000


@pytest.mark.parametrize(
    ("offered", "family"),
    [
        ("rtcstats#5.0", Family.RTCSTATS),
        ("rtcstats#4.0", Family.RTCSTATS),
        ("3.1_STANDARD", Family.JITSI),
        ("3.1_LEGACY", Family.JITSI),
        ("3.0_JVB", Family.JITSI),
        ("1.0_JICOFO", Family.JITSI),
        ("1.0_JIGASI", Family.JITSI),
        ("1.0_JIBRI", Family.JITSI),
        ("2.0", Family.LEGACY),
        (None, Family.LEGACY),
        ("chat", Family.LEGACY),
    ],
)
def test_family_by_subprotocol(offered: str | None, family: Family) -> None:
    assert family_of(offered) is family


def test_client_type_of_jitsi_backends() -> None:
    assert client_type("3.0_JVB") == "JVB" and client_type("3.1_STANDARD") == "RTCSTATS_CLIENT"


def test_credential_in_the_path_is_found_and_masked() -> None:
    found = locate_credential(
        "/ingest/v1/rtcstats/t/rtk_0123456789abcdef_secret/room@conf?x", "statsSessionId=a", None
    )
    assert (found.credential, found.where) == ("rtk_0123456789abcdef_secret", "path")
    assert found.path == "/t/obfuscated/room@conf?x" and found.query == "statsSessionId=a"
    assert page_segment(found.path) == "room@conf?x"


def test_credential_in_the_query_then_the_header() -> None:
    q = locate_credential("/ingest/v1/rtcstats/page", "a=1&rtcstats-token=abc.def.ghi", "Bearer x")
    assert (q.credential, q.where, q.query) == (
        "abc.def.ghi",
        "query",
        "a=1&rtcstats-token=obfuscated",
    )
    h = locate_credential("/ingest/v1/rtcstats", "", "Bearer tok")
    assert (h.credential, h.where) == ("tok", "header")
    assert locate_credential("/ingest/v1/rtcstats", "", None).credential is None
    assert recorded_url("/page", "") == "/ingest/v1/rtcstats/page"


def test_jitsi_identity() -> None:
    assert who_from_jitsi(
        {"confName": "room", "endpointId": "ab12", "displayName": "Ada"}, None
    ) == Who("room", "ab12", "Ada")
    assert who_from_jitsi({"endpointId": "ab12"}, "fqn-room") == Who("fqn-room", "ab12", None)
    assert who_from_jitsi({"confName": "room"}, None) is None  # no endpoint: no peer
    assert who_from_jitsi({"confName": "bad room", "endpointId": "e"}, None) is None


def test_legacy_identity_and_constraints() -> None:
    assert who_from_legacy("identity", {"user": "u1", "conference": "c1"}) == Who("c1", "u1", "u1")
    constraints = {"optional": [{"rtcStatsPeerId": "p"}, {"rtcStatsConferenceId": "c"},
                                {"rtcStatsClientId": "client"}]}  # fmt: skip
    assert who_from_legacy("constraints", constraints) == Who("c", "p", "client")
    assert who_from_legacy("getstats", {"user": "u"}) is None


@pytest.mark.parametrize(
    ("address", "mode", "kept"),
    [
        ("203.0.113.77", "truncate", "203.0.113.0"),
        ("2001:db8:1234:5678::1", "truncate", "2001:db8:1234::"),
        ("203.0.113.77", "keep", "203.0.113.77"),
        ("203.0.113.77", "drop", None),
        ("not-an-ip", "truncate", None),
    ],
)
def test_client_address(address: str, mode: str, kept: str | None) -> None:
    assert client_address(address, mode) == kept


def test_a_minted_token_verifies_and_carries_rtcstats_claims() -> None:
    token = mint(SECRET, account_id="a", app_id="x", who=Who("m", "p", "Ada"), now_s=NOW, ttl_s=60)
    assert looks_like_jwt(token) and unverified_app(token) == ("a", "x")
    claims = verify(token, SECRET, now_s=NOW + 10, max_ttl_s=3600)
    assert (claims.account_id, claims.app_id, claims.who) == ("a", "x", Who("m", "p", "Ada"))
    assert jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})[
        "rtcStats"
    ] == {"conference": "m", "session": "p", "user": "Ada"}
    assert "eyJ" not in redact(f"url?x=1 {token} and /ingest/v1/rtcstats/t/{token}/room")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"now_s": NOW + 200}, "expired"),
        ({"secret": "o" * 64}, "bad signature"),
        ({"max_ttl_s": 30}, "lifetime"),
    ],
)
def test_refused_tokens(change: dict[str, object], reason: str) -> None:
    token = mint(SECRET, account_id="a", app_id="x", who=Who("m", "p"), now_s=NOW, ttl_s=60)
    args: dict[str, object] = {"secret": SECRET, "now_s": NOW, "max_ttl_s": 3600, **change}
    with pytest.raises(TokenRefused, match=reason):
        verify(
            token,
            str(args["secret"]),
            now_s=int(str(args["now_s"])),
            max_ttl_s=int(str(args["max_ttl_s"])),
        )


def test_tokens_without_exp_or_ids_are_refused() -> None:
    no_exp = jwt.encode({"account_id": "a", "app_id": "x", "iat": NOW}, SECRET, algorithm="HS256")
    with pytest.raises(TokenRefused, match="exp"):
        verify(no_exp, SECRET, now_s=NOW, max_ttl_s=3600)
    bad_ids = jwt.encode(
        {"account_id": "a", "app_id": "x", "iat": NOW, "exp": NOW + 60,
         "rtcStats": {"conference": "has space", "session": "p"}},
        SECRET, algorithm="HS256",
    )  # fmt: skip
    with pytest.raises(TokenRefused, match="valid ids"):
        verify(bad_ids, SECRET, now_s=NOW, max_ttl_s=3600)
    none_alg = jwt.encode({"account_id": "a", "app_id": "x"}, None, algorithm="none")
    with pytest.raises(TokenRefused):
        verify(none_alg, SECRET, now_s=NOW, max_ttl_s=3600)
