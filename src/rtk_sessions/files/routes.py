"""GET and HEAD /files/{key}: downloads behind the local store's signed, expiring links."""

from __future__ import annotations

from typing import Annotated

from litestar import get, head
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, Parameter
from litestar.response import File

from rtk_sessions.kit.blobs import (
    BlobMissing,
    LocalBlobStore,
    attachment_disposition,
    content_type_for,
)
from rtk_sessions.kit.errors import NotFound
from rtk_sessions.kit.http import ErrorBody
from rtk_sessions.kit.state import AppState
from rtk_sessions.kit.timeutil import now_ms

Q = Annotated[str | None, Parameter(required=False)]
REFUSALS = {
    400: ResponseSpec(ErrorBody, description="A path or query value is not valid text."),
    403: ResponseSpec(ErrorBody, description="The link was changed, is incomplete or expired."),
    404: ResponseSpec(ErrorBody, description="The file no longer exists (retention)."),
}


def _download(state: AppState, key: str, expires: str | None, signature: str | None) -> File:
    """The file a signed link names, with its type and name from the key (docs/files.md)."""
    store = state.blobs
    if not isinstance(store, LocalBlobStore):
        raise NotFound("Files are kept in S3 here; ask the API for a new (presigned) link")
    key = key.lstrip("/")
    try:
        path = store.verify_download(key, expires, signature, now_ms() // 1000)
    except BlobMissing as exc:
        raise NotFound("This file no longer exists (it expired or was replaced)") from exc
    filename = key.rsplit("/", 1)[-1]
    # Set here, not from media_type: Litestar would append a second charset to text/ types.
    headers = {
        "content-type": content_type_for(filename),
        "content-disposition": attachment_disposition(filename),
    }
    return File(path, filename=filename, headers=headers)


@get("/files/{key:path}", operation_id="DownloadFile", tags=["files"], responses=REFUSALS)
async def download_file(
    rtk: NamedDependency[AppState], key: FromPath[str], expires: Q = None, signature: Q = None
) -> File:
    """Download a chat, transcript or summary file with a link the API handed out."""
    return _download(rtk, key, expires, signature)


@head("/files/{key:path}", operation_id="DownloadFileHead", tags=["files"], responses=REFUSALS)
async def download_file_head(
    rtk: NamedDependency[AppState], key: FromPath[str], expires: Q = None, signature: Q = None
) -> File:
    """The headers a download with this link would get (type, size, name), without the body."""
    return _download(rtk, key, expires, signature)
