"""Where generated files (chat CSVs, transcripts, summaries) live, and the links that fetch them.

Two stores behind one Protocol: a local directory whose links this service signs and serves
itself, and an S3-compatible bucket whose links are S3 presigned URLs. The local store is
also the test fake.
"""

from __future__ import annotations

import calendar
import io
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, BinaryIO, Protocol
from urllib.parse import parse_qs, quote, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from rtk_sessions.config import Settings, SettingsError
from rtk_sessions.kit.errors import Unavailable
from rtk_sessions.kit.private import private_dir
from rtk_sessions.kit.redact import redacted_logger
from rtk_sessions.kit.signing import load_or_create_secret, sign, verify
from rtk_sessions.kit.timeutil import now_s

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

S3_MAX_EXPIRES_S = 7 * 86400  # SigV4 presigned URLs cannot live longer than 7 days

_KEY = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")
_MAX_KEY_LENGTH = 900  # S3 allows 1024 bytes, and the bucket prefix needs room too
_CHUNK = 1 << 20

_CONTENT_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".srt": "application/x-subrip; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


log = redacted_logger("rtk_sessions.files")


class BlobMissing(Exception):
    """No file is stored under this key."""


class BlobStoreUnavailable(Unavailable):
    """The store failed; the message names the class of failure only, the log has the rest."""


@dataclass(frozen=True)
class Link:
    url: str
    expires_at_ms: int
    """When the URL really stops working: whole seconds, never later than asked."""


class BlobStore(Protocol):
    def put_file(self, key: str, source: Path, content_type: str) -> None:
        """Store a finished file; readers see the old version or the whole new one.

        `source` is left in place; the caller removes it.
        """

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store small content, as atomically as `put_file`."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the file; a key that is already gone is not an error (retention may race)."""

    def read_bytes(self, key: str) -> bytes:
        """The whole content, for tests and the CLI; raises BlobMissing."""

    def copy_to(self, key: str, target: BinaryIO) -> None:
        """Stream the content into `target` without holding it in memory; raises BlobMissing."""

    def link(
        self, key: str, *, base_url: str, expires_at_ms: int, filename: str, content_type: str
    ) -> Link:
        """A download URL valid until at most `expires_at_ms` (rounded down to a second).

        `base_url` is this API's public URL (the local store serves files itself).
        Raises ValueError when the wanted expiry is less than a second away.
        """


def check_key(key: str) -> str:
    """The key unchanged, or ValueError: only [A-Za-z0-9._-] segments, no `.` or `..`.

    Keys become file paths in the local store, so this is what makes traversal impossible.
    """
    if len(key) > _MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise ValueError(f"blob key {key!r}: use /-separated segments of A-Z a-z 0-9 . _ -")
    if any(segment in (".", "..") for segment in key.split("/")):
        raise ValueError(f"blob key {key!r}: '.' and '..' segments are not allowed")
    return key


def content_type_for(filename: str) -> str:
    """The Content-Type a download of `filename` is served with, from its extension."""
    return _CONTENT_TYPES.get(PurePosixPath(filename).suffix.lower(), "application/octet-stream")


def attachment_disposition(filename: str) -> str:
    """`attachment; filename="..."`, safe for any name (quotes escaped, no header breaks)."""
    fallback = "".join(c if " " <= c <= "~" else "_" for c in filename)
    fallback = fallback.replace("\\", "\\\\").replace('"', '\\"')
    value = f'attachment; filename="{fallback}"'
    if not filename.isascii():
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value


def blob_store_from_settings(settings: Settings) -> BlobStore:
    """The local directory when RTK_BLOB_URL is empty, else the S3 bucket it names."""
    if not settings.blob_url:
        secret = load_or_create_secret(settings.data_dir, settings.signing_secret)
        return LocalBlobStore(settings.data_dir / "files", secret)
    bucket, prefix = parse_s3_url(settings.blob_url)
    return S3BlobStore(s3_client_from_settings(settings), bucket, prefix)


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) from `s3://bucket/prefix`; the prefix may be empty."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(
            f"RTK_BLOB_URL={url!r}: leave it empty for local files or use s3://bucket/prefix"
        )
    prefix = parts.path.strip("/")
    if prefix:
        check_key(prefix)
    return parts.netloc, prefix


def s3_client_from_settings(settings: Settings) -> S3Client:
    config = Config(signature_version="s3v4")
    if settings.s3_path_style:
        config = config.merge(Config(s3={"addressing_style": "path"}))
    elif settings.s3_endpoint_url:
        # botocore silently uses path style for any custom endpoint unless told otherwise.
        config = config.merge(Config(s3={"addressing_style": "virtual"}))
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url or None,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id or None,
        aws_secret_access_key=settings.s3_secret_access_key or None,
        config=config,
    )


def _whole_seconds_ahead(expires_at_ms: int, now_s: int) -> int:
    seconds = expires_at_ms // 1000 - now_s
    if seconds < 1:
        raise ValueError(f"a link must live at least one second (wanted {expires_at_ms} ms)")
    return seconds


class LocalBlobStore:
    """Files under `root`; links point at this service's `/files/<key>` route, HMAC-signed."""

    def __init__(self, root: Path, secret: bytes, clock: Callable[[], float] = now_s) -> None:
        self.root = root
        self._secret = secret
        self._clock = clock

    def local_path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def put_file(self, key: str, source: Path, content_type: str) -> None:
        with source.open("rb") as src, self._replacing(key) as dst:
            shutil.copyfileobj(src, dst, _CHUNK)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        with self._replacing(key) as dst:
            dst.write(data)

    @contextmanager
    def _replacing(self, key: str) -> Iterator[IO[bytes]]:
        """A temp file beside the target, renamed over it once complete (atomic on POSIX)."""
        path = self.local_path(key)
        private_dir(path.parent)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as file:
                yield file
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def exists(self, key: str) -> bool:
        return self.local_path(key).is_file()

    def delete(self, key: str) -> None:
        self.local_path(key).unlink(missing_ok=True)

    def read_bytes(self, key: str) -> bytes:
        try:
            return self.local_path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise BlobMissing(key) from exc

    def copy_to(self, key: str, target: BinaryIO) -> None:
        try:
            source = self.local_path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise BlobMissing(key) from exc
        with source:
            shutil.copyfileobj(source, target, _CHUNK)

    def link(
        self, key: str, *, base_url: str, expires_at_ms: int, filename: str, content_type: str
    ) -> Link:
        """Filename and type stay out of the URL: the route derives them from the key."""
        check_key(key)
        now_s = int(self._clock())
        expires_s = now_s + _whole_seconds_ahead(expires_at_ms, now_s)
        signature = sign(self._secret, f"/files/{key}", expires_s)
        url = f"{base_url.rstrip('/')}/files/{key}?expires={expires_s}&signature={signature}"
        return Link(url=url, expires_at_ms=expires_s * 1000)

    def verify_download(
        self, key: str, expires: str | None, signature: str | None, now_s: int
    ) -> Path:
        """The file a `/files/<key>` request may read; raises LinkRefused or BlobMissing.

        The signature is checked first: only keys we signed (hence valid) reach the disk.
        """
        verify(self._secret, f"/files/{key}", expires, signature, now_s)
        path = self.local_path(key)
        if not path.is_file():
            raise BlobMissing(key)
        return path


class S3BlobStore:
    """Objects in an S3-compatible bucket under `prefix/`; links are SigV4 presigned URLs."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        clock: Callable[[], float] = now_s,
    ) -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._clock = clock

    def object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, key: str, source: Path, content_type: str) -> None:
        """S3 shows an object only once its (multipart) upload completes."""
        with _store_errors("upload"):
            self._client.upload_file(
                str(source),
                self.bucket,
                self.object_key(key),
                ExtraArgs={"ContentType": content_type},
            )

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        with _store_errors("upload"):
            self._client.put_object(
                Bucket=self.bucket, Key=self.object_key(key), Body=data, ContentType=content_type
            )

    def exists(self, key: str) -> bool:
        try:
            with _store_errors("look up"):
                self._client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except BlobMissing:
            return False
        return True

    def delete(self, key: str) -> None:
        with _store_errors("delete"):
            self._client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def read_bytes(self, key: str) -> bytes:
        buffer = io.BytesIO()
        self.copy_to(key, buffer)
        return buffer.getvalue()

    def copy_to(self, key: str, target: BinaryIO) -> None:
        with _store_errors("download"):
            response = self._client.get_object(Bucket=self.bucket, Key=self.object_key(key))
            body = response["Body"]  # not `with`: StreamingBody.__enter__ gives the raw stream
            try:
                for chunk in body.iter_chunks(_CHUNK):
                    target.write(chunk)
            finally:
                body.close()

    def link(
        self, key: str, *, base_url: str, expires_at_ms: int, filename: str, content_type: str
    ) -> Link:
        """At most 7 days (S3's limit); `base_url` is unused, the bucket serves the file.

        botocore stamps X-Amz-Date from its own clock read; if its second ticked past ours
        the URL would outlive the wanted expiry by one second, so we sign again one shorter.
        """
        seconds = min(_whole_seconds_ahead(expires_at_ms, int(self._clock())), S3_MAX_EXPIRES_S)
        while True:
            url = self._presign(key, seconds, filename, content_type)
            expires_s = presigned_expiry_s(url)
            if expires_s * 1000 <= expires_at_ms:
                return Link(url=url, expires_at_ms=expires_s * 1000)
            seconds -= expires_s - expires_at_ms // 1000
            if seconds < 1:
                raise ValueError(
                    f"a link must live at least one second (wanted {expires_at_ms} ms)"
                )

    def _presign(self, key: str, seconds: int, filename: str, content_type: str) -> str:
        params = {
            "Bucket": self.bucket,
            "Key": self.object_key(key),
            "ResponseContentDisposition": attachment_disposition(filename),
            "ResponseContentType": content_type,
        }
        with _store_errors("sign a link"):
            return self._client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=seconds
            )


def presigned_expiry_s(url: str) -> int:
    """Epoch seconds a SigV4 presigned URL stops working: X-Amz-Date + X-Amz-Expires."""
    query = parse_qs(urlsplit(url).query)
    signed_at = time.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
    return calendar.timegm(signed_at) + int(query["X-Amz-Expires"][0])


def _is_not_found(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in {"404", "NoSuchKey", "NotFound"}


@contextmanager
def _store_errors(action: str) -> Iterator[None]:
    """S3 errors as BlobMissing or BlobStoreUnavailable: clients learn the class of failure,
    never the endpoint, bucket or exception text; those go to the (redacted) log."""
    try:
        yield
    except ClientError as exc:
        if _is_not_found(exc):
            raise BlobMissing() from None
        code = str(exc.response.get("Error", {}).get("Code", "unknown"))
        log.warning("S3 %s failed: %s (%s)", action, code, exc)
        raise BlobStoreUnavailable("the file store refused the request") from None
    except BotoCoreError as exc:
        log.warning("S3 %s failed: %s: %s", action, type(exc).__name__, exc)
        raise BlobStoreUnavailable("the file store could not be reached") from None
