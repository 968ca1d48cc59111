"""Keeping secrets out of logs and messages: credentials in URLs, signatures in query strings.

Errors shown to API clients name the failure only; the details go to the log, and every log
line of ours passes through `RedactSecrets` first (docs/security.md).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# scheme://user:password@host → scheme://***@host (also user-only and password-only forms)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@\"']*@")
# Query parameters that carry a signature, a credential or a token: our signed links, S3
# presigned links, rtcstats clients' tokens, and the usual names of keys and passwords.
SECRET_QUERY_KEYS = frozenset(
    {
        "signature",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "awsaccesskeyid",
        "sig",
        "token",
        "rtcstats-token",
        "access_token",
        "api_key",
        "apikey",
        "key",
        "password",
    }
)
_SECRET_PARAM = re.compile(
    r"(?i)(?<![\w-])("
    + "|".join(re.escape(k) for k in sorted(SECRET_QUERY_KEYS, key=len, reverse=True))
    + r")=[^&\s\"'#]+"
)
# Bearer tokens and our own API tokens, wherever they appear.
_TOKENS = re.compile(r"(?i)\b(bearer\s+)[^\s\"',]+|\brtk_[0-9a-f]{16}_[A-Za-z0-9_-]+")
# A credential in a live rtcstats URL path (/ingest/v1/rtcstats/t/<credential>/...), and
# JWTs (stream tokens) wherever they appear.
_PATH_CREDENTIAL = re.compile(r"(/rtcstats/t/)[^/?#\s\"']+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def redact_query(query: str) -> str:
    """A query string with the values of SECRET_QUERY_KEYS masked, the rest unchanged."""
    parts = []
    for part in query.split("&"):
        key, sep, _ = part.partition("=")
        parts.append(f"{key}={MASK}" if sep and key.lower() in SECRET_QUERY_KEYS else part)
    return "&".join(parts)


def redact(text: str) -> str:
    """`text` with URL credentials, signed query parameters and tokens masked."""
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _PATH_CREDENTIAL.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _JWT.sub(MASK, text)
    return _TOKENS.sub(lambda m: f"{m.group(1)}{MASK}" if m.group(1) else MASK, text)


def redact_url(url: str) -> str:
    """The URL with its user info and query masked: where it points, never how it gets in."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a URL we can take apart: mask what looks secret
        return redact(url)
    netloc = f"{MASK}@{host}{port}" if "@" in parts.netloc else parts.netloc
    query = MASK if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class RedactSecrets(logging.Filter):
    """Masks secrets in a record's message and traceback before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def redacted_logger(name: str) -> logging.Logger:
    """`logging.getLogger(name)` whose records are redacted (filters do not inherit)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
    return logger
