"""The schema: one MetaData shared by the store and Alembic.

Times are whole epoch milliseconds in BIGINT columns (UTC by definition). Raw events are the
source of truth; `meetings`, `sessions` and `peers` are derived from them and can be rebuilt.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
)

apps = Table(
    "apps",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(128), ForeignKey("accounts.id"), nullable=False),
    Column("app_id", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # Since when sessions of the app that end with transcript segments are summarized without
    # a POST (`app set --summarize-on-end`, migration 0014); NULL = they are not.
    Column("summarize_on_end_since", BigInteger, nullable=True),
    UniqueConstraint("account_id", "app_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(128), ForeignKey("accounts.id"), nullable=False),
    Column("app_id", String(128), nullable=True),
    Column("permissions", String(64), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("label", String(256), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    Column("last_used_at", BigInteger, nullable=True),  # stamped at most once a minute
)

# Dashboard sign-ins (docs/dashboard.md): the browser holds a random key in an HTTP-only cookie;
# only its SHA-256 is stored, with the token it was made from (checked again on every page, so
# revoking the token signs its dashboard sessions out) and the sign-in's CSRF secret.
ui_sign_ins = Table(
    "ui_sign_ins",
    metadata,
    Column("key_sha256", String(64), primary_key=True),
    Column("token_id", String(32), ForeignKey("api_tokens.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index(None, "expires_at"),
)

# Every accepted event, as received. `session_id` is its placement (NULL = pending, except for
# meeting-level types that are never pending); `placement` says how it was placed.
events = Table(
    "events",
    metadata,
    Column("app_pk", Integer, ForeignKey("apps.pk"), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("meeting_id", String(128), nullable=False),
    Column("peer_id", String(128), nullable=True),
    Column("occurred_at", BigInteger, nullable=False),
    Column("place_at", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("inferred", Boolean, nullable=False, default=False),
    Column("session_id", String(36), nullable=True),
    Column("placement", SmallInteger, nullable=False, default=0),
    Column("body", Text, nullable=False),
    # With `placement` last, a meeting's events to place by time are found without reading
    # the app's other pending events (docs/ingestion.md).
    Index(None, "app_pk", "meeting_id", "type", "placement"),
    Index(None, "app_pk", "peer_id", "type"),
    Index(None, "app_pk", "session_id", "type"),
    Index(None, "app_pk", "placement"),
)

meetings = Table(
    "meetings",
    metadata,
    Column("app_pk", Integer, ForeignKey("apps.pk"), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("parent_meeting_id", String(128), nullable=True),
    Column("last_received_at", BigInteger, nullable=False),
    Index(None, "app_pk", "parent_meeting_id"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("app_pk", Integer, ForeignKey("apps.pk"), primary_key=True),
    Column("id", String(36), primary_key=True),
    Column("meeting_id", String(128), nullable=False),
    Column("parent_session_id", String(36), nullable=True),
    Column("title", String(256), nullable=False),
    Column("type", String(16), nullable=False),
    Column("meta", Text, nullable=True),
    Column("status", String(8), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
    Column("own_ended_at", BigInteger, nullable=True),
    Column("max_concurrent", Integer, nullable=False),
    Column("open_count", Integer, nullable=False),
    Column("closed_ms", BigInteger, nullable=False),
    Column("open_join_sum_ms", BigInteger, nullable=False),
    Column("own_updated_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # Search folds of title and meeting id (sessions.folding; session ids are lowercase UUIDs).
    Column("title_folded", Text, nullable=False),
    Column("meeting_id_folded", Text, nullable=False),
    # The list's orders and filters (migration 0010): each ends in `id`, the page's tiebreak.
    Index(None, "app_pk", "started_at", "id"),
    Index(None, "app_pk", "meeting_id"),
    Index(None, "app_pk", "parent_session_id"),
    Index(None, "app_pk", "status", "started_at", "id"),
    # ENDED sessions by minutes consumed (their consumed ms is closed_ms; docs/api-decisions.md).
    Index(None, "app_pk", "status", "closed_ms", "id"),
    # A participants range: one ordered walk per max_concurrent value, merged.
    Index(None, "app_pk", "status", "max_concurrent", "closed_ms", "id"),
    Index(None, "app_pk", "max_concurrent", "started_at", "id"),
)

# How many sessions each app has per status and max_concurrent, kept in step with `sessions`
# by triggers (migration 0010), so that `total_count` of the plain, status and participants
# lists is a sum over a few rows instead of a count over the app's sessions.
session_counts = Table(
    "session_counts",
    metadata,
    Column("app_pk", Integer, ForeignKey("apps.pk"), primary_key=True),
    Column("status", String(8), primary_key=True),
    Column("max_concurrent", Integer, primary_key=True),
    Column("sessions", BigInteger, nullable=False),
)

peers = Table(
    "peers",
    metadata,
    Column("app_pk", Integer, ForeignKey("apps.pk"), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("session_id", String(36), nullable=False),
    Column("meeting_id", String(128), nullable=False),
    Column("user_id", String(256), nullable=True),
    Column("custom_participant_id", String(256), nullable=True),
    Column("display_name", String(256), nullable=True),
    Column("preset_name", String(128), nullable=True),
    Column("preset_view_type", String(16), nullable=False),
    Column("socket_session_id", String(256), nullable=True),
    Column("joined_at", BigInteger, nullable=False),
    Column("left_at", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    # Search folds (sessions.folding); "" where the field is missing.
    Column("id_folded", Text, nullable=False),
    Column("user_id_folded", Text, nullable=False),
    Column("custom_participant_id_folded", Text, nullable=False),
    Column("display_name_folded", Text, nullable=False),
    Index(None, "app_pk", "session_id", "joined_at"),
    Index(None, "app_pk", "meeting_id"),
    # Peers still connected, for the idle sweep: a handful, however long the history.
    Index(
        "ix_peers_open_app_pk_meeting_id",
        "app_pk",
        "meeting_id",
        sqlite_where=text("left_at IS NULL"),
        postgresql_where=text("left_at IS NULL"),
    ),
)

# Usage per UTC day (sessions.usage): sessions started and the peers' closed intervals' ms on
# that day, kept with the derived data so that daywise analytics never scan sessions.
usage_days = Table(
    "usage_days",
    metadata,
    Column("app_pk", Integer, ForeignKey("apps.pk"), primary_key=True),
    Column("day", Integer, primary_key=True),  # days since 1970-01-01, UTC
    Column("sessions", Integer, nullable=False),
    Column("closed_ms", BigInteger, nullable=False),
)

# Every file built for a session (chat export, transcript per format, summary). A newer build of
# the same (session, kind, variant) supersedes older ones; superseded and expired files are
# deleted by the purge once no link handed out for them can still be live.
artifacts = Table(
    "artifacts",
    metadata,
    Column("app_pk", Integer, ForeignKey("apps.pk"), primary_key=True),
    Column("key", String(512), primary_key=True),
    Column("session_id", String(36), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("variant", String(16), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("built_at", BigInteger, nullable=False),
    Column("superseded_at", BigInteger, nullable=True),
    Index(None, "app_pk", "session_id", "kind", "variant"),
    Index(None, "superseded_at"),
)

# One row per session whose summary was asked for: the durable intent (status PROCESSING until a
# job finishes it) and the latest finished summary, which keeps being served while a newer one
# is generated.
summaries = Table(
    "summaries",
    metadata,
    Column("app_pk", Integer, ForeignKey("apps.pk"), primary_key=True),
    Column("session_id", String(36), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("requested_fingerprint", String(64), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("enqueued_at", BigInteger, nullable=True),
    Column("started_at", BigInteger, nullable=True),
    Column("error", Text, nullable=True),
    Column("ready_key", String(512), nullable=True),
    Column("ready_fingerprint", String(64), nullable=True),
    Column("ready_at", BigInteger, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    Index(None, "status"),
)

# A peer's report, built from its telemetry events (peer.metadata, peer.event, peer.stats) and
# stored so that reading it never reprocesses raw samples; `fingerprint` says which telemetry
# it was built from, so a stale report is rebuilt once.
peer_reports = Table(
    "peer_reports",
    metadata,
    Column("app_pk", Integer, ForeignKey("apps.pk"), primary_key=True),
    Column("peer_id", String(128), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("report", Text, nullable=False),
    Column("built_at", BigInteger, nullable=False),
)

# How an app takes in another platform's webhooks (docs/integrations.md): one row per provider
# (`realtimekit`, `livekit`) with its settings as JSON: RealtimeKit's public key (pinned, or
# its URL and the key fetched from it), LiveKit's API key and secret.
app_integrations = Table(
    "app_integrations",
    metadata,
    Column("app_pk", Integer, ForeignKey("apps.pk"), primary_key=True),
    Column("provider", String(16), primary_key=True),
    Column("settings", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Where a history import into an app stopped, per source (e.g. a RealtimeKit account and app),
# so that a second run fetches only what is new or changed.
import_checkpoints = Table(
    "import_checkpoints",
    metadata,
    Column("app_pk", Integer, ForeignKey("apps.pk"), primary_key=True),
    Column("source", String(512), primary_key=True),
    Column("state", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# A peer report taken as it was served by another server (a history import), for a peer with
# no raw telemetry here: served as is until telemetry arrives.
imported_peer_reports = Table(
    "imported_peer_reports",
    metadata,
    Column("app_pk", Integer, ForeignKey("apps.pk"), primary_key=True),
    Column("peer_id", String(128), primary_key=True),
    Column("report", Text, nullable=False),
    Column("imported_at", BigInteger, nullable=False),
)

# Webhook deliveries already taken in, per app and provider, by the provider's delivery id
# and by a hash of the signed body, so a repeated delivery is acknowledged and ignored.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("app_pk", Integer, ForeignKey("apps.pk"), primary_key=True),
    Column("provider", String(16), primary_key=True),
    Column("delivery", String(160), primary_key=True),
    Column("received_at", BigInteger, nullable=False),
    Index(None, "received_at"),
)

# A file RealtimeKit made for a session (chat, transcript, summary) that a job downloads and
# takes in: the durable intent (PENDING until DONE or FAILED), its signed link, and the tries.
realtimekit_downloads = Table(
    "realtimekit_downloads",
    metadata,
    Column("app_pk", Integer, ForeignKey("apps.pk"), primary_key=True),
    Column("session_id", String(128), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("meeting_id", String(128), nullable=False),
    Column("url", Text, nullable=False),
    Column("session_started_at", BigInteger, nullable=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("enqueued_at", BigInteger, nullable=True),
    Column("run_started_at", BigInteger, nullable=True),
    Column("error", Text, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    Index(None, "status"),
)

# Live rtcstats (docs/rtcstats-live.md): the per-app secret that signs stream
# tokens (HS256), and one row per stream, whose dump is the concatenation of its chunk blobs.
rtcstats_secrets = Table(
    "rtcstats_secrets",
    metadata,
    Column("app_pk", Integer, ForeignKey("apps.pk"), primary_key=True),
    Column("secret", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

rtcstats_streams = Table(
    "rtcstats_streams",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("app_pk", Integer, ForeignKey("apps.pk"), nullable=False),
    Column("family", String(16), nullable=False),
    Column("client_session", String(128), nullable=True),  # Jitsi's statsSessionId
    Column("meeting_id", String(128), nullable=True),
    Column("peer_id", String(128), nullable=True),
    Column("user_label", String(256), nullable=True),
    Column("chunks", Integer, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("lines", Integer, nullable=False),
    Column("last_seq", BigInteger, nullable=True),
    Column("events", Integer, nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("last_flush_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
    Column("close_code", Integer, nullable=True),
    UniqueConstraint("app_pk", "client_session"),
    Index(None, "app_pk", "peer_id"),
    Index(None, "app_pk", "meeting_id"),
    Index(None, "ended_at"),
)

# Outgoing webhooks (docs/webhooks.md): an app's subscriptions, the deliveries owed to them
# (the outbox, written in the transaction of whatever caused them) and every attempt made.
# Not to be confused with `webhook_deliveries` above, which records *incoming* ones.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("app_pk", Integer, ForeignKey("apps.pk"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("events", String(512), nullable=False),  # comma-separated event names
    Column("enabled", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("failing_since", BigInteger, nullable=True),  # first failure of the current run
    Column("disabled_reason", String(256), nullable=True),
    Index(None, "app_pk"),
)

webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),  # order within a meeting
    Column("id", String(36), nullable=False, unique=True),  # the rtk-uuid header
    Column("webhook_id", String(36), ForeignKey("webhooks.id"), nullable=False),
    Column("meeting_id", String(128), nullable=False),
    Column("event", String(64), nullable=False),
    Column("event_key", String(320), nullable=False),  # what makes it the same event again
    Column("body", Text, nullable=False),  # what is signed and sent (less a file's link)
    # A file's delivery carries a link made fresh at each attempt: the file and its expiry.
    Column("file_key", String(512), nullable=True),
    Column("file_expires_at", BigInteger, nullable=True),
    Column("export_kind", String(16), nullable=True),  # chat/transcript to export at sending
    Column("state", String(16), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
    UniqueConstraint("webhook_id", "event_key"),
    Index(None, "state", "next_attempt_at"),
    Index(None, "webhook_id", "meeting_id", "state"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("outbox_pk", Integer, ForeignKey("webhook_outbox.pk"), nullable=False),
    Column("webhook_id", String(36), ForeignKey("webhooks.id"), nullable=False),
    Column("attempted_at", BigInteger, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("error", String(512), nullable=True),
    Index(None, "webhook_id", "attempted_at"),
    Index(None, "outbox_pk"),
)
