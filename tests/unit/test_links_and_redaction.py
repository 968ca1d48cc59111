"""Which Host a link may come from, the settings that guard the edge, and what the log
redaction masks."""

from __future__ import annotations

import logging

import pytest

from rtk_sessions.config import Settings, SettingsError
from rtk_sessions.files.links import allowed_hosts, host_allowed, host_name
from rtk_sessions.kit.redact import RedactSecrets, redact, redact_url


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8787", "127.0.0.1"),
        ("LocalHost", "localhost"),
        ("[::1]:8787", "::1"),
        ("rtk.example.com", "rtk.example.com"),
        ("a b", None),
        ("x@evil.example", None),
        ("host/path", None),
        ("host:port", None),
    ],
)
def test_host_names(header: str, name: str | None) -> None:
    assert host_name(header) == name


def test_default_hosts_are_loopback_and_the_bind_address() -> None:
    assert allowed_hosts(Settings()) == {"localhost", "127.0.0.1", "::1"}
    assert "10.0.0.5" in allowed_hosts(Settings(host="10.0.0.5"))
    assert allowed_hosts(Settings(host="0.0.0.0")) == {"localhost", "127.0.0.1", "::1"}
    configured = allowed_hosts(Settings(allowed_hosts="rtk.example.com, [::2]"))
    assert configured == {"rtk.example.com", "::2"}  # replaces the default
    assert host_allowed("RTK.example.com:443", configured)
    assert not host_allowed("localhost:8787", configured)
    assert host_allowed("anything.example", allowed_hosts(Settings(allowed_hosts="*")))


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"public_url": "rtk.example.com"}, "RTK_PUBLIC_URL"),
        ({"public_url": "ftp://rtk.example.com"}, "RTK_PUBLIC_URL"),
        ({"trusted_proxies": "10.0.0.0/8, proxy.local"}, "RTK_TRUSTED_PROXIES"),
        ({"auth_failure_limit": "twenty"}, "RTK_AUTH_FAILURE_LIMIT"),
        ({"rate_limit_read": "5 per fortnight"}, "RTK_RATE_LIMIT_READ"),
        ({"rate_limit_storage": "memcached://u:pw@h"}, "RTK_RATE_LIMIT_STORAGE"),
    ],
)
def test_edge_settings_are_checked_at_start(values: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named) as caught:
        Settings(**values)  # type: ignore[arg-type]
    assert "pw" not in str(caught.value)


def test_secret_settings_stay_out_of_repr() -> None:
    shown = repr(
        Settings(
            summary_llm_url="http://u:llm-pass@h/v1",
            summary_llm_key="sk-key",
            s3_secret_access_key="s3-secret",
            signing_secret="hmac-secret",
            database_url="postgresql+asyncpg://u:db-pass@h/db",
            jobs_url="redis://:jobs-pass@h:6379/0",
            rate_limit_storage="redis://:limit-pass@h:6379/0",
        )
    )
    for secret in ("llm-pass", "sk-key", "s3-secret", "hmac-secret", "db-pass", "jobs-pass",
                   "limit-pass"):  # fmt: skip
        assert secret not in shown


def test_redact_masks_credentials_signatures_and_tokens() -> None:
    text = (
        "POST http://user:pass@llm.example/v1 failed; GET /files/k?expires=1&signature=abc12; "
        "https://b.s3/k?X-Amz-Credential=AKID%2F&X-Amz-Signature=f00 "
        "Authorization: Bearer sk-live-1 rtk_0123456789abcdef_Zx9-secret"
    )
    cleaned = redact(text)
    for secret in ("user:pass", "abc12", "AKID", "f00", "sk-live-1", "Zx9-secret"):
        assert secret not in cleaned
    assert "llm.example/v1" in cleaned and "expires=1" in cleaned
    assert redact_url("http://u:p@host:8080/v1?key=k") == "http://***@host:8080/v1?***"


def test_the_log_filter_redacts_messages_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("rtk_sessions.test_redaction")
    logger.addFilter(RedactSecrets())
    try:
        raise ConnectionError("cannot reach http://admin:hunter2@db.example:5432/x")
    except ConnectionError:
        logger.exception("failed for %s", "https://x.example/?signature=deadbeef")
    logger.filters.clear()
    assert "hunter2" not in caplog.text and "deadbeef" not in caplog.text
    assert "db.example:5432" in caplog.text and "ConnectionError" in caplog.text
