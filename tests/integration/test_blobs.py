"""Blob stores against real storage: a local directory, and S3 spoken to a moto server on
127.0.0.1 (path-style, and virtual-hosted through moto acting as an HTTP proxy).

moto does not enforce presigned-URL expiry, so the expiry is checked on the URL's own
X-Amz-Date and X-Amz-Expires parameters.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import botocore.auth
import httpx
import pytest
from moto.server import ThreadedMotoServer

from rtk_sessions.config import Settings, SettingsError
from rtk_sessions.kit import blobs
from rtk_sessions.kit.blobs import (
    S3_MAX_EXPIRES_S,
    BlobMissing,
    BlobStoreUnavailable,
    LocalBlobStore,
    S3BlobStore,
    blob_store_from_settings,
    s3_client_from_settings,
)
from rtk_sessions.kit.signing import LinkRefused

KEY = "chat/12/2ae1c8b0-9f1e-4c1b-a0f4-3b1c2d3e4f50/3f9a0c/chat-2ae1c8b0.csv"
CSV = "text/csv; charset=utf-8"
T = 1_780_000_000  # a fixed "now" (epoch seconds) for the tests that freeze the clocks
BAD_KEYS = ["../outside.txt", "chat/../../outside.txt", "/etc/passwd", "a//b", "a b"]


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


# --- local directory ---------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "files", b"s" * 32, clock=lambda: T + 0.4)


def test_local_put_read_copy_delete(local: LocalBlobStore, tmp_path: Path) -> None:
    source = tmp_path / "built.csv"
    source.write_bytes(b"id,message\n1,hi\n")
    local.put_file(KEY, source, CSV)
    assert source.exists(), "the caller owns the source file"
    assert local.exists(KEY)
    assert local.read_bytes(KEY) == b"id,message\n1,hi\n"
    assert local.local_path(KEY) == tmp_path / "files" / Path(*KEY.split("/"))
    target = io.BytesIO()
    local.copy_to(KEY, target)
    assert target.getvalue() == b"id,message\n1,hi\n"

    local.put_bytes(KEY, b"replaced", CSV)
    assert local.read_bytes(KEY) == b"replaced"
    assert [p.name for p in local.local_path(KEY).parent.iterdir()] == [KEY.rsplit("/", 1)[1]]

    local.delete(KEY)
    local.delete(KEY)  # already gone: fine
    assert not local.exists(KEY)
    with pytest.raises(BlobMissing):
        local.read_bytes(KEY)
    with pytest.raises(BlobMissing):
        local.copy_to(KEY, io.BytesIO())


def test_local_directories_are_not_blobs(local: LocalBlobStore) -> None:
    local.put_bytes("a/b/c.txt", b"x", "text/plain")
    assert not local.exists("a/b")
    with pytest.raises(BlobMissing):
        local.read_bytes("a/b")
    with pytest.raises(BlobMissing):
        local.read_bytes("a/b/c.txt/d")


def test_local_failed_write_keeps_the_old_file_and_no_temp(
    local: LocalBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local.put_bytes(KEY, b"old", CSV)
    source = tmp_path / "new.csv"
    source.write_bytes(b"new content")

    def broken_copy(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(shutil, "copyfileobj", broken_copy)
    with pytest.raises(OSError, match="disk full"):
        local.put_file(KEY, source, CSV)
    assert local.read_bytes(KEY) == b"old"
    assert len(list(local.local_path(KEY).parent.iterdir())) == 1


@pytest.mark.parametrize("key", BAD_KEYS)
def test_local_refuses_keys_that_escape_the_root(
    local: LocalBlobStore, tmp_path: Path, key: str
) -> None:
    for call in (
        lambda: local.put_bytes(key, b"x", CSV),
        lambda: local.exists(key),
        lambda: local.read_bytes(key),
        lambda: local.delete(key),
        lambda: local.local_path(key),
        lambda: local.link(
            key, base_url="", expires_at_ms=(T + 60) * 1000, filename="x", content_type=CSV
        ),
    ):
        with pytest.raises(ValueError, match="blob key"):
            call()
    assert not (tmp_path / "outside.txt").exists()


def test_local_link_verifies_with_its_own_query(local: LocalBlobStore) -> None:
    local.put_bytes(KEY, b"hi", CSV)
    link = local.link(
        KEY,
        base_url="https://rtk.example/",
        expires_at_ms=(T + 3600) * 1000 + 999,
        filename="ignored.csv",
        content_type=CSV,
    )
    assert link.expires_at_ms == (T + 3600) * 1000
    assert link.url.startswith(f"https://rtk.example/files/{KEY}?expires={T + 3600}&signature=")
    query = query_of(link.url)
    assert set(query) == {"expires", "signature"}
    path = local.verify_download(KEY, query["expires"], query["signature"], now_s=T + 3599)
    assert path.read_bytes() == b"hi"

    with pytest.raises(LinkRefused, match="expired at"):
        local.verify_download(KEY, query["expires"], query["signature"], now_s=T + 3600)
    with pytest.raises(LinkRefused, match="not valid"):
        local.verify_download(
            KEY.replace("chat-", "chat_"), query["expires"], query["signature"], T
        )
    with pytest.raises(LinkRefused, match="not valid"):
        local.verify_download("../" + KEY, query["expires"], query["signature"], T)
    with pytest.raises(LinkRefused, match="incomplete"):
        local.verify_download(KEY, None, query["signature"], T)
    local.delete(KEY)
    with pytest.raises(BlobMissing):
        local.verify_download(KEY, query["expires"], query["signature"], T)


def test_local_link_must_live_at_least_a_second(local: LocalBlobStore) -> None:
    for wanted_ms in (T * 1000 + 999, (T - 60) * 1000):
        with pytest.raises(ValueError, match="at least one second"):
            local.link(KEY, base_url="", expires_at_ms=wanted_ms, filename="x", content_type=CSV)
    link = local.link(
        KEY, base_url="", expires_at_ms=(T + 1) * 1000, filename="x", content_type=CSV
    )
    assert link.expires_at_ms == (T + 1) * 1000


def test_local_store_from_settings_keeps_one_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = blob_store_from_settings(settings)
    assert isinstance(first, LocalBlobStore)
    assert first.root == tmp_path / "files"
    first.put_bytes(KEY, b"hi", CSV)
    now_s = int(time.time())  # stores from settings use the real clock
    link = first.link(
        KEY, base_url="", expires_at_ms=(now_s + 3600) * 1000, filename="x", content_type=CSV
    )
    query = query_of(link.url)

    again = blob_store_from_settings(settings)  # a restart, or a second process
    assert isinstance(again, LocalBlobStore)
    assert again.verify_download(KEY, query["expires"], query["signature"], now_s).is_file()
    other = blob_store_from_settings(Settings(data_dir=tmp_path, signing_secret="other"))
    assert isinstance(other, LocalBlobStore)
    with pytest.raises(LinkRefused, match="another key"):
        other.verify_download(KEY, query["expires"], query["signature"], now_s)


@pytest.mark.parametrize(
    "url", ["s3://", "s3:///prefix", "http://bucket/x", "bucket", "s3://b/../x"]
)
def test_bad_blob_urls_name_the_setting(tmp_path: Path, url: str) -> None:
    with pytest.raises((SettingsError, ValueError), match=r"RTK_BLOB_URL|blob key"):
        blob_store_from_settings(Settings(data_dir=tmp_path, blob_url=url))


# --- S3 (moto) ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_port() -> Iterator[int]:
    """A moto S3 server on loopback; no request may reach real AWS."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        env.setenv("AWS_CONFIG_FILE", os.devnull)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            yield server.get_host_and_port()[1]
        finally:
            server.stop()


def s3_settings(
    endpoint: str, bucket: str, *, path_style: bool, prefix: str = "rtk/files"
) -> Settings:
    return Settings(
        blob_url=f"s3://{bucket}/{prefix}",
        s3_endpoint_url=endpoint,
        s3_region="us-east-1",
        s3_access_key_id="rtk-test-key",
        s3_secret_access_key="rtk-test-secret",
        s3_path_style=path_style,
    )


@pytest.fixture
def path_style(moto_port: int) -> tuple[S3BlobStore, Settings]:
    settings = s3_settings(
        f"http://127.0.0.1:{moto_port}", f"b-{uuid.uuid4().hex[:12]}", path_style=True
    )
    store = blob_store_from_settings(settings)
    assert isinstance(store, S3BlobStore)
    s3_client_from_settings(settings).create_bucket(Bucket=store.bucket)
    return store, settings


def freeze_clocks(
    monkeypatch: pytest.MonkeyPatch, store: S3BlobStore, ours: float, botocore_s: int
) -> None:
    """Our clock and the one botocore stamps X-Amz-Date with, set independently."""
    monkeypatch.setattr(store, "_clock", lambda: ours)
    stamp = datetime.fromtimestamp(botocore_s, UTC).replace(tzinfo=None)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: stamp)


def test_s3_put_exists_read_delete(
    path_style: tuple[S3BlobStore, Settings], tmp_path: Path
) -> None:
    store, settings = path_style
    source = tmp_path / "built.csv"
    source.write_bytes(b"id,message\n1,hi\n" * 1000)
    store.put_file(KEY, source, CSV)
    assert source.exists(), "the caller owns the source file"
    assert store.exists(KEY)
    assert store.read_bytes(KEY) == source.read_bytes()
    target = io.BytesIO()
    store.copy_to(KEY, target)
    assert target.getvalue() == source.read_bytes()

    client = s3_client_from_settings(settings)
    head = client.head_object(Bucket=store.bucket, Key=f"rtk/files/{KEY}")
    assert head["ContentType"] == CSV
    store.put_bytes("summary/1/summary.txt", b"short", "text/plain; charset=utf-8")
    listed = client.list_objects_v2(Bucket=store.bucket)["Contents"]
    assert sorted(o["Key"] for o in listed) == [
        f"rtk/files/{KEY}",
        "rtk/files/summary/1/summary.txt",
    ]

    store.delete(KEY)
    store.delete(KEY)  # already gone: fine
    assert not store.exists(KEY)
    with pytest.raises(BlobMissing):
        store.read_bytes(KEY)
    with pytest.raises(BlobMissing):
        store.copy_to(KEY, io.BytesIO())
    for key in BAD_KEYS:
        with pytest.raises(ValueError, match="blob key"):
            store.exists(key)


def test_s3_link_serves_the_file_with_overrides(path_style: tuple[S3BlobStore, Settings]) -> None:
    store, _ = path_style
    store.put_bytes(KEY, b"id,message\n1,hi\n", "application/octet-stream")
    wanted_ms = int(datetime.now(UTC).timestamp() * 1000) + 3_600_500
    link = store.link(
        KEY,
        base_url="https://ignored",
        expires_at_ms=wanted_ms,
        filename='chat "1".csv',
        content_type=CSV,
    )

    assert link.url.startswith(
        f"http://127.0.0.1:{urlsplit(link.url).port}/{store.bucket}/rtk/files/{KEY}?"
    )
    query = query_of(link.url)
    assert query["X-Amz-Signature"]
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert link.expires_at_ms % 1000 == 0 and link.expires_at_ms <= wanted_ms
    assert blobs.presigned_expiry_s(link.url) * 1000 == link.expires_at_ms

    response = httpx.get(link.url)
    assert response.status_code == 200
    assert response.content == b"id,message\n1,hi\n"
    assert response.headers["content-type"] == CSV
    assert response.headers["content-disposition"] == 'attachment; filename="chat \\"1\\".csv"'


def test_s3_link_expiry_is_exactly_the_whole_seconds_asked(
    path_style: tuple[S3BlobStore, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = path_style
    freeze_clocks(monkeypatch, store, ours=T + 0.4, botocore_s=T)
    link = store.link(
        KEY, base_url="", expires_at_ms=(T + 3600) * 1000 + 700, filename="c.csv", content_type=CSV
    )
    query = query_of(link.url)
    assert query["X-Amz-Expires"] == "3600"
    assert query["X-Amz-Date"] == "20260528T202640Z"  # T
    assert link.expires_at_ms == (T + 3600) * 1000


def test_s3_link_signs_again_when_botocores_second_ticked(
    path_style: tuple[S3BlobStore, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = path_style
    freeze_clocks(monkeypatch, store, ours=T + 0.999, botocore_s=T + 1)
    link = store.link(
        KEY, base_url="", expires_at_ms=(T + 3600) * 1000, filename="c.csv", content_type=CSV
    )
    assert query_of(link.url)["X-Amz-Expires"] == "3599"
    assert link.expires_at_ms == (T + 3600) * 1000


def test_s3_link_is_capped_at_seven_days(
    path_style: tuple[S3BlobStore, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = path_style
    freeze_clocks(monkeypatch, store, ours=T, botocore_s=T)
    link = store.link(
        KEY, base_url="", expires_at_ms=(T + 30 * 86400) * 1000, filename="c.csv", content_type=CSV
    )
    assert S3_MAX_EXPIRES_S == 604800
    assert query_of(link.url)["X-Amz-Expires"] == "604800"
    assert link.expires_at_ms == (T + 604800) * 1000


def test_s3_link_must_live_at_least_a_second(
    path_style: tuple[S3BlobStore, Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = path_style
    freeze_clocks(monkeypatch, store, ours=T, botocore_s=T)
    for wanted_ms in (T * 1000 + 999, (T - 1) * 1000):
        with pytest.raises(ValueError, match="at least one second"):
            store.link(KEY, base_url="", expires_at_ms=wanted_ms, filename="c", content_type=CSV)
    # One second asked, but botocore's clock is already there: nothing valid can be signed.
    freeze_clocks(monkeypatch, store, ours=T, botocore_s=T + 1)
    with pytest.raises(ValueError, match="at least one second"):
        store.link(KEY, base_url="", expires_at_ms=(T + 1) * 1000, filename="c", content_type=CSV)


def test_s3_virtual_hosted_style(moto_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """`bucket.s3.rtk.test` never resolves (.test is reserved), so every request must go
    through moto acting as the HTTP proxy; a misrouted one fails instead of leaving loopback."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{moto_port}")
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    bucket = f"v-{uuid.uuid4().hex[:12]}"
    settings = s3_settings(f"http://s3.rtk.test:{moto_port}", bucket, path_style=False, prefix="p")
    s3_client_from_settings(settings).create_bucket(Bucket=bucket)
    store = blob_store_from_settings(settings)
    assert isinstance(store, S3BlobStore)

    store.put_bytes(KEY, b"virtual", CSV)
    assert store.exists(KEY) and store.read_bytes(KEY) == b"virtual"
    wanted_ms = int(datetime.now(UTC).timestamp() * 1000) + 60_000
    link = store.link(KEY, base_url="", expires_at_ms=wanted_ms, filename="c.csv", content_type=CSV)
    assert urlsplit(link.url).netloc == f"{bucket}.s3.rtk.test:{moto_port}"
    assert urlsplit(link.url).path == f"/p/{KEY}"
    response = httpx.get(link.url)
    assert response.status_code == 200 and response.content == b"virtual"
    assert response.headers["content-disposition"] == 'attachment; filename="c.csv"'
    store.delete(KEY)
    assert not store.exists(KEY)


def test_s3_without_prefix_stores_keys_at_the_bucket_root(moto_port: int) -> None:
    bucket = f"r-{uuid.uuid4().hex[:12]}"
    settings = s3_settings(f"http://127.0.0.1:{moto_port}", bucket, path_style=True, prefix="")
    client = s3_client_from_settings(settings)
    client.create_bucket(Bucket=bucket)
    store = blob_store_from_settings(settings)
    store.put_bytes(KEY, b"x", CSV)
    assert [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]] == [KEY]


def test_s3_failures_name_their_class_only(
    moto_port: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Clients read "could not be reached" or "refused"; endpoint, bucket and botocore's text
    go to the log only, and the credentials nowhere."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore would retry a refused connection
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    cases = [
        (f"http://127.0.0.1:{moto_port}", "the file store refused the request"),  # no bucket
        (f"http://127.0.0.1:{port}", "the file store could not be reached"),
    ]
    for endpoint, reason in cases:
        settings = s3_settings(endpoint, f"missing-{uuid.uuid4().hex[:8]}", path_style=True)
        store = blob_store_from_settings(settings)
        calls = [
            (store.put_bytes, (KEY, b"x", CSV)),
            (store.copy_to, (KEY, io.BytesIO())),
            (store.delete, (KEY,)),
        ]
        for call, args in calls:
            with pytest.raises(BlobStoreUnavailable) as caught:
                call(*args)
            assert (caught.value.status, caught.value.message) == (503, reason)
    assert "NoSuchBucket" in caplog.text and f"127.0.0.1:{port}" in caplog.text
    assert "rtk-test-secret" not in caplog.text
    with pytest.raises(BlobStoreUnavailable, match="could not be reached"):
        store.exists(KEY)  # (a missing bucket reads as a missing object: HEAD has no body)
