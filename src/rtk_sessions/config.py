"""One typed settings object, read from `RTK_*` environment variables.

Every field has a default that works on a laptop; `docs/configuration.md` lists them all
(a test keeps the two in step).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from limits import RateLimitItem
from limits import parse as parse_limit

from rtk_sessions.kit.redact import redact_url

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def parse_duration(name: str, text: str) -> float:
    """Seconds from `90`, `90s`, `15m`, `6h` or `7d`, so operators need not do arithmetic."""
    match = _DURATION.match(text)
    if not match:
        raise SettingsError(f"{name}={text!r}: use seconds or a number with s, m, h or d")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _setting(env: str, default: Any, help: str, *, secret: bool = False) -> Any:
    """A field read from `env`; a `secret` one (it may hold credentials) stays out of repr()."""
    return field(default=default, repr=not secret, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    data_dir: Path = _setting(
        "RTK_DATA_DIR", Path("data"), "Directory for the SQLite database and local files."
    )
    database_url: str = _setting(
        "RTK_DATABASE_URL",
        "",
        "SQLAlchemy URL; empty means SQLite (WAL) at DATA_DIR/rtk.db. "
        "PostgreSQL: postgresql+asyncpg://user@host:5432/db.",
        secret=True,
    )
    host: str = _setting("RTK_HOST", "127.0.0.1", "Address `serve` listens on.")
    port: int = _setting("RTK_PORT", 8787, "Port `serve` listens on.")
    public_url: str = _setting(
        "RTK_PUBLIC_URL",
        "",
        "Base URL for links the API hands out; empty = the request's scheme and Host, "
        "if RTK_ALLOWED_HOSTS names that host.",
    )
    session_end_grace: float = _setting(
        "RTK_SESSION_END_GRACE",
        0.0,
        "Peers' intervals separated by at most this gap still form one session (seconds).",
    )
    session_idle_timeout: float = _setting(
        "RTK_SESSION_IDLE_TIMEOUT",
        6 * 3600.0,
        "A LIVE session that received no event for this long is closed by the sweep.",
    )
    sweep_interval: float = _setting(
        "RTK_SWEEP_INTERVAL",
        60.0,
        "How often the idle sweep runs, in one `serve` process of the deployment (seconds).",
    )
    pending_max_age: float = _setting(
        "RTK_PENDING_MAX_AGE",
        7 * 86400.0,
        "Events pending longer than this are reported as orphaned (they stay stored).",
    )
    log_level: str = _setting("RTK_LOG_LEVEL", "info", "Log level of `serve` and `worker`.")
    log_format: str = _setting(
        "RTK_LOG_FORMAT",
        "text",
        "text = one line per record; json = one JSON object per line (app, access, jobs).",
    )
    metrics_dir: str = _setting(
        "RTK_METRICS_DIR",
        "",
        "Directory where every process on this host (serve, worker) keeps its metrics, added up "
        "by /metrics; empty = each process in memory (serve shows only its own), or "
        "DATA_DIR/metrics for `serve --workers N`.",
    )
    metrics_token: str = _setting(
        "RTK_METRICS_TOKEN",
        "",
        "When set, /metrics requires `Authorization: Bearer <this>`; empty = open (restrict it "
        "at the network instead).",
    )
    blob_url: str = _setting(
        "RTK_BLOB_URL",
        "",
        "Where chat, transcript and summary files go: empty = DATA_DIR/files (served by this "
        "service with signed links); s3://bucket/prefix = an S3-compatible bucket.",
    )
    s3_endpoint_url: str = _setting(
        "RTK_S3_ENDPOINT_URL", "", "S3 endpoint for MinIO/R2/Ceph; empty = AWS."
    )
    s3_region: str = _setting("RTK_S3_REGION", "us-east-1", "S3 region used for signing.")
    s3_access_key_id: str = _setting(
        "RTK_S3_ACCESS_KEY_ID", "", "S3 access key; empty = boto3's default credential chain."
    )
    s3_secret_access_key: str = _setting(
        "RTK_S3_SECRET_ACCESS_KEY",
        "",
        "S3 secret key; empty = boto3's default credential chain.",
        secret=True,
    )
    s3_path_style: bool = _setting(
        "RTK_S3_PATH_STYLE", False, "Path-style bucket addressing (MinIO, Ceph and most non-AWS)."
    )
    signing_secret: str = _setting(
        "RTK_SIGNING_SECRET",
        "",
        "HMAC key for local download links; empty = generated once and kept in "
        "DATA_DIR/signing.key, shared by the processes of this host. API processes on several "
        "hosts with local files need one value everywhere (docs/operations.md).",
        secret=True,
    )
    link_ttl: float = _setting(
        "RTK_LINK_TTL", 3600.0, "Lifetime of a download link; never past the file's retention."
    )
    chat_retention: float = _setting(
        "RTK_CHAT_RETENTION",
        7 * 86400.0,
        "Chat files expire this long after the session ends; 0 = keep.",
    )
    transcript_retention: float = _setting(
        "RTK_TRANSCRIPT_RETENTION",
        7 * 86400.0,
        "Transcript files expire this long after the session ends; 0 = keep.",
    )
    summary_retention: float = _setting(
        "RTK_SUMMARY_RETENTION",
        7 * 86400.0,
        "Summary files expire this long after the session ends; 0 = keep.",
    )
    content_retention: float = _setting(
        "RTK_CONTENT_RETENTION",
        0.0,
        "Chat messages and transcript segments themselves are deleted this long after their "
        "session ends; 0 = keep them forever (files follow their own retention).",
    )
    summary_format: str = _setting(
        "RTK_SUMMARY_FORMAT", "markdown", "Summary text format: markdown or plain_text."
    )
    summary_word_limit: int = _setting(
        "RTK_SUMMARY_WORD_LIMIT", 500, "Upper bound on a summary's length in words (150-1000)."
    )
    summary_llm_url: str = _setting(
        "RTK_SUMMARY_LLM_URL",
        "",
        "OpenAI-compatible base URL (e.g. http://127.0.0.1:11434/v1); empty = the offline "
        "extractive summarizer.",
        secret=True,
    )
    summary_llm_key: str = _setting(
        "RTK_SUMMARY_LLM_KEY", "", "Bearer key for the LLM endpoint.", secret=True
    )
    summary_llm_model: str = _setting(
        "RTK_SUMMARY_LLM_MODEL", "gpt-4o-mini", "Model name sent to the LLM endpoint."
    )
    summary_llm_timeout: float = _setting(
        "RTK_SUMMARY_LLM_TIMEOUT", 60.0, "Timeout of one LLM request (seconds)."
    )
    summary_llm_retries: int = _setting(
        "RTK_SUMMARY_LLM_RETRIES", 2, "Retries of a failed LLM request (timeouts, 429, 5xx)."
    )
    summary_llm_fallback: bool = _setting(
        "RTK_SUMMARY_LLM_FALLBACK",
        False,
        "When the LLM fails, write an extractive summary instead of failing the job.",
    )
    geoip_mmdb: str = _setting(
        "RTK_GEOIP_MMDB",
        "",
        "MaxMind-format database (GeoLite2 City/ASN) for city, region and ASN in peer reports; "
        "empty = country only, from the data bundled with iptocc.",
    )
    report_max_points: int = _setting(
        "RTK_REPORT_MAX_POINTS",
        720,
        "Per-sample lists of a peer report are capped at this many entries by merging "
        "neighbouring intervals; the distributions always use every interval.",
    )
    max_dump_bytes: int = _setting(
        "RTK_MAX_DUMP_BYTES",
        100 * 2**20,
        "Largest rtcstats dump accepted, decompressed (bytes); larger gets 413.",
    )
    rtcstats_flush: float = _setting(
        "RTK_RTCSTATS_FLUSH",
        5.0,
        "Live rtcstats streams: how often buffered lines are stored and ingested (seconds).",
    )
    rtcstats_idle_timeout: float = _setting(
        "RTK_RTCSTATS_IDLE_TIMEOUT",
        60.0,
        "Live rtcstats, Jitsi clients: a stream with no message (keepalives count) for this "
        "long ends; a socket with none closes.",
    )
    rtcstats_client_ip: str = _setting(
        "RTK_RTCSTATS_CLIENT_IP",
        "truncate",
        "Client address written into a live rtcstats dump's metadata: keep, truncate "
        "(IPv4 /24, IPv6 /48) or drop.",
    )
    rtcstats_max_frame_bytes: int = _setting(
        "RTK_RTCSTATS_MAX_FRAME_BYTES",
        2**20,
        "Live rtcstats: the largest WebSocket message taken; larger closes the socket (1009).",
    )
    rtcstats_max_streams: int = _setting(
        "RTK_RTCSTATS_MAX_STREAMS",
        16,
        "Live rtcstats, Jitsi clients: streams (statsSessionIds) one socket may carry.",
    )
    rtcstats_jwt_max_ttl: float = _setting(
        "RTK_RTCSTATS_JWT_MAX_TTL",
        86400.0,
        "Live rtcstats: the longest lifetime (exp - iat) a signed stream token may have.",
    )
    fetch_allow_private: bool = _setting(
        "RTK_FETCH_ALLOW_PRIVATE",
        False,
        "Allow downloads (RealtimeKit chat, transcript and summary files, public key URLs) "
        "from private, loopback and link-local addresses; off = refused (docs/security.md).",
    )
    webhook_allow_private: bool = _setting(
        "RTK_WEBHOOK_ALLOW_PRIVATE",
        False,
        "Allow webhook deliveries to private, loopback and link-local addresses (checked "
        "against what the URL's host resolves to at each delivery); off = refused "
        "(docs/webhooks.md).",
    )
    webhook_timeout: float = _setting(
        "RTK_WEBHOOK_TIMEOUT",
        10.0,
        "Time limit of one webhook delivery, from name lookup to the answer's status line.",
    )
    webhook_max_attempts: int = _setting(
        "RTK_WEBHOOK_MAX_ATTEMPTS",
        12,
        "Tries of one webhook delivery that fails for a passing reason (network, timeout, "
        "408, 429, 5xx) before it is recorded as failed; with the default waits that is "
        "about a day.",
    )
    webhook_retry_base: float = _setting(
        "RTK_WEBHOOK_RETRY_BASE",
        60.0,
        "Wait before a webhook delivery's second try; each later wait doubles (up to 6 h), "
        "with up to 20% jitter, or is what the receiver's Retry-After asks if that is longer.",
    )
    webhook_disable_after: float = _setting(
        "RTK_WEBHOOK_DISABLE_AFTER",
        3 * 86400.0,
        "A webhook whose deliveries have all failed for this long is disabled, and says so; "
        "enabling it again resumes its deliveries.",
    )
    fetch_ca_file: str = _setting(
        "RTK_FETCH_CA_FILE",
        "",
        "PEM file of extra certificate authorities trusted for those downloads (a private "
        "CA); empty = the system's.",
    )
    fetch_max_bytes: int = _setting(
        "RTK_FETCH_MAX_BYTES",
        50 * 2**20,
        "Largest file downloaded from a webhook's link (bytes); larger fails the download.",
    )
    fetch_timeout: float = _setting(
        "RTK_FETCH_TIMEOUT",
        60.0,
        "Time limit of one download, from name lookup to the last byte (seconds).",
    )
    fetch_attempts: int = _setting(
        "RTK_FETCH_ATTEMPTS",
        5,
        "Tries of a download that fails for a passing reason (network, 5xx) before it is "
        "recorded as failed; waits between tries double from 30 s.",
    )
    jobs_url: str = _setting(
        "RTK_JOBS_URL",
        "",
        "Job queue: empty = SQLite file DATA_DIR/jobs.db; redis://host:6379/0 for workers "
        "on several machines.",
        secret=True,
    )
    jobs_queue: str = _setting(
        "RTK_JOBS_QUEUE",
        "",
        "Queue name; empty = derived from the database URL, so deployments sharing a Redis "
        "stay apart. Processes that share a queue must share the database and blob store.",
    )
    job_workers: int = _setting(
        "RTK_JOB_WORKERS",
        2,
        "Job worker threads inside `serve`; 0 = this process only enqueues (run "
        "`rtk-sessions worker` elsewhere).",
    )
    cpu_workers: int = _setting(
        "RTK_CPU_WORKERS",
        2,
        "Worker processes that decode, inflate and validate request bodies and rtcstats dumps, "
        "so the API stays responsive; jobs get one process per job worker besides.",
    )
    reconcile_interval: float = _setting(
        "RTK_RECONCILE_INTERVAL",
        60.0,
        "How often upkeep runs, in one `serve` or `worker` process of the deployment: requested "
        "work without a live job is enqueued again, expired files deleted (seconds).",
    )
    job_stale_after: float = _setting(
        "RTK_JOB_STALE_AFTER",
        600.0,
        "A job started this long ago that has not finished is presumed dead and enqueued again.",
    )
    allowed_hosts: str = _setting(
        "RTK_ALLOWED_HOSTS",
        "",
        "Without RTK_PUBLIC_URL, requests for download links must name one of these hosts "
        "(comma-separated; * = any) in their Host header, else 400; empty = localhost, "
        "127.0.0.1, ::1 and RTK_HOST.",
    )
    trusted_proxies: str = _setting(
        "RTK_TRUSTED_PROXIES",
        "",
        "Addresses or networks of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto "
        "are believed (comma-separated, e.g. 10.0.0.0/8); empty = none, the socket peer is "
        "the client.",
    )
    auth_failure_limit: str = _setting(
        "RTK_AUTH_FAILURE_LIMIT",
        "20/minute",
        "Failed authentications allowed per client address (e.g. 20/minute, 100/hour); "
        "beyond it every request from that address gets 429 until the window frees; off = none.",
    )
    rate_limit_read: str = _setting(
        "RTK_RATE_LIMIT_READ",
        "6000/minute",
        "Requests per token to routes that need `read`; beyond it 429; off = unlimited.",
    )
    rate_limit_admin: str = _setting(
        "RTK_RATE_LIMIT_ADMIN",
        "600/minute",
        "Requests per token to routes that need `admin` (starting summaries); off = unlimited.",
    )
    rate_limit_ingest: str = _setting(
        "RTK_RATE_LIMIT_INGEST",
        "6000/minute",
        "Requests per token to the ingest routes (each up to 5,000 events); off = unlimited.",
    )
    rate_limit_storage: str = _setting(
        "RTK_RATE_LIMIT_STORAGE",
        "",
        "Where rate-limit counters live: empty = this process's memory; redis://host:6379/0 "
        "= shared by every process using that Redis and the same database.",
        secret=True,
    )
    csv_formula_guard: bool = _setting(
        "RTK_CSV_FORMULA_GUARD",
        False,
        "Prefix CSV cells that a spreadsheet would run as a formula (= + - @ tab CR) with ' "
        "(docs/security.md); off = the exact data.",
    )
    test_clock_offset: float = _setting(
        "RTK_TEST_CLOCK_OFFSET",
        0.0,
        "Tests only: this process's clock runs this far ahead of the system clock (e.g. 2h), "
        "so tests see links and files expire without waiting. Leave empty.",
    )
    test_count_transactions: bool = _setting(
        "RTK_TEST_COUNT_TRANSACTIONS",
        False,
        "Tests only: each response carries X-RTK-Transactions, the number of database "
        "transactions its request began. Leave off.",
    )

    def __post_init__(self) -> None:
        """Refuse values that would only fail later, inside a job, far from the operator."""
        if self.log_format not in ("text", "json"):
            raise SettingsError(f"RTK_LOG_FORMAT={self.log_format!r}: use text or json")
        if self.summary_format not in ("markdown", "plain_text"):
            raise SettingsError(
                f"RTK_SUMMARY_FORMAT={self.summary_format!r}: use markdown or plain_text"
            )
        if not 150 <= self.summary_word_limit <= 1000:
            raise SettingsError(
                f"RTK_SUMMARY_WORD_LIMIT={self.summary_word_limit}: use 150 to 1000 words"
            )
        if self.blob_url and not self.blob_url.startswith("s3://"):
            raise SettingsError(
                f"RTK_BLOB_URL={self.blob_url!r}: leave empty (local files) or use s3://bucket/prefix"
            )
        if self.jobs_url and not self.jobs_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(
                f"RTK_JOBS_URL={redact_url(self.jobs_url)!r}: leave empty (SQLite) or use "
                "redis://host:6379/0"
            )
        if self.rtcstats_client_ip not in ("keep", "truncate", "drop"):
            raise SettingsError(
                f"RTK_RTCSTATS_CLIENT_IP={self.rtcstats_client_ip!r}: use keep, truncate or drop"
            )
        if self.rtcstats_flush <= 0 or self.rtcstats_idle_timeout <= 0:
            raise SettingsError("RTK_RTCSTATS_FLUSH and RTK_RTCSTATS_IDLE_TIMEOUT must be > 0")
        _check_edge_settings(self)

    @property
    def on_loopback(self) -> bool:
        """Whether only this machine can reach the server (`make run`'s default host): the
        demo banner's dashboard link then carries the token, and that sign-in is automatic."""
        return self.host in ("127.0.0.1", "::1", "localhost")

    @property
    def session_end_grace_ms(self) -> int:
        return int(self.session_end_grace * 1000)

    @property
    def session_idle_timeout_ms(self) -> int:
        return int(self.session_idle_timeout * 1000)

    @property
    def pending_max_age_ms(self) -> int:
        return int(self.pending_max_age * 1000)

    @property
    def effective_jobs_queue(self) -> str:
        """Jobs name rows of one database, so by default the queue is named after it."""
        if self.jobs_queue:
            return self.jobs_queue
        digest = hashlib.sha256(self.effective_database_url.encode()).hexdigest()[:12]
        return f"rtk-sessions-{digest}"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'rtk.db').resolve()}"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Build from the environment; explicit overrides (CLI flags) win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.metadata["env"], f.default, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _check_edge_settings(s: Settings) -> None:
    """Links, hosts, proxies and rate limits: refused at start rather than on a request."""
    public = urlsplit(s.public_url)
    if s.public_url and (
        public.scheme not in ("http", "https") or not public.hostname or public.query
    ):
        raise SettingsError(
            f"RTK_PUBLIC_URL={s.public_url!r}: use http(s)://host[:port][/path], "
            "e.g. https://rtk.example.com"
        )
    for entry in split_list(s.trusted_proxies):
        try:
            ipaddress.ip_network(entry)
        except ValueError as exc:
            raise SettingsError(
                f"RTK_TRUSTED_PROXIES: {entry!r} is not an address or network (e.g. 10.0.0.0/8)"
            ) from exc
    for env, value in (
        ("RTK_AUTH_FAILURE_LIMIT", s.auth_failure_limit),
        ("RTK_RATE_LIMIT_READ", s.rate_limit_read),
        ("RTK_RATE_LIMIT_ADMIN", s.rate_limit_admin),
        ("RTK_RATE_LIMIT_INGEST", s.rate_limit_ingest),
    ):
        parse_rate(env, value)
    if s.rate_limit_storage and not s.rate_limit_storage.startswith(("redis://", "rediss://")):
        raise SettingsError(
            f"RTK_RATE_LIMIT_STORAGE: leave empty (memory) or use redis://host:6379/0 "
            f"(got a {urlsplit(s.rate_limit_storage).scheme or 'plain'} value)"
        )


def split_list(text: str) -> list[str]:
    """The non-empty items of a comma-separated setting."""
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_rate(name: str, text: str) -> RateLimitItem | None:
    """`20/minute`, `100 per hour`, `5/2 seconds` as a rate; None for `off`."""
    if text.strip().lower() == "off":
        return None
    try:
        return parse_limit(text)
    except ValueError as exc:
        raise SettingsError(
            f"{name}={text!r}: use a count per period, e.g. 20/minute or 100/hour, or off"
        ) from exc


def _convert(name: str, default: Any, raw: str) -> Any:
    if isinstance(default, Path):
        return Path(raw)
    if isinstance(default, bool):
        return raw.lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise SettingsError(f"{name}={raw!r}: expected a whole number") from exc
    if isinstance(default, float):
        return parse_duration(name, raw)
    return raw


def settings_reference() -> list[tuple[str, str, str]]:
    """(variable, default, help) for every setting, for docs and `--help` text."""
    return [(f.metadata["env"], str(f.default), f.metadata["help"]) for f in fields(Settings)]
