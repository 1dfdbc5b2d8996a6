"""`/v1/files`: uploads kept in Weaviate as base64 parts of bounded size, written as they
arrive (never the whole file in memory), then the file's record; reading a file's content
streams the parts back in order. A file's record is written last, so an upload that fails or is
refused half-way leaves no file (its parts are deleted)."""

from __future__ import annotations

import base64
import contextlib
import secrets
import string
from collections.abc import AsyncIterator
from typing import Any, Protocol

from runestone_gateway import errors
from runestone_gateway.retrieval import records, weaviate

PART_BYTES = 192 * 1024
"""Raw bytes per stored part (256 KiB of base64)."""
PURPOSES = ("assistants", "user_data")
_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(24))


class Source(Protocol):
    """An upload as it arrives: the file's bytes, then what the form said about it."""

    filename: str | None
    fields: dict[str, str]

    async def read(self, size: int) -> bytes:
        """The file's next bytes, at most `size`; b"" at its end."""


def body(file: dict[str, Any]) -> dict[str, Any]:
    """A file as OpenAI's API answers it."""
    return {
        "id": file["fileId"],
        "object": "file",
        "bytes": file["bytes"],
        "created_at": int(file["createdUs"] // 1_000_000),
        "filename": file["filename"],
        "purpose": file["purpose"],
        "status": "processed",
        "expires_at": None,
        "status_details": None,
    }


def not_found(file_id: str) -> errors.GatewayError:
    return errors.invalid(f"No such File object: {file_id}", code="file_not_found", status=404)


async def upload(
    store: records.Records,
    owner: str,
    source: Source,
    *,
    max_bytes: int,
    quota_bytes: int | None,
    quota_files: int | None,
) -> dict[str, Any]:
    """Parts are written as the file arrives; the form's other fields may come after it, so
    they are checked at its end (a refusal then deletes the parts)."""
    room: int | None = None
    if quota_bytes is not None or quota_files is not None:
        count, used = await store.usage(owner)
        if quota_files is not None and count >= quota_files:
            raise quota(f"The key keeps {count} files, its limit (maxFiles) is {quota_files}.")
        if quota_bytes is not None:
            room = quota_bytes - used
    file_id = new_id("file-")
    size = parts = 0
    try:
        while chunk := await source.read(PART_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise errors.GatewayError(
                    413,
                    f"The file is larger than this gateway accepts ({max_bytes} bytes).",
                    type=errors.INVALID_REQUEST,
                    code="file_too_large",
                )
            if room is not None and size > room:
                raise quota(
                    f"The file does not fit in the key's storage limit (maxStoredBytes, "
                    f"{quota_bytes} bytes; {max(room, 0)} left)."
                )
            await store.put(
                records.PARTS,
                f"{file_id}:{parts}",
                {"fileId": file_id, "seq": parts, "data": base64.b64encode(chunk).decode()},
            )
            parts += 1
        purpose, filename = source.fields.get("purpose", ""), source.filename or ""
        if purpose not in PURPOSES:
            raise errors.malformed(
                f"'purpose' must be one of {', '.join(PURPOSES)}; got {purpose!r}.",
                param="purpose",
            )
        if not filename:
            raise errors.malformed("The file needs a name.", param="file")
        file = {
            "fileId": file_id,
            "owner": owner,
            "filename": filename,
            "bytes": size,
            "purpose": purpose,
            "createdUs": records.now_us(),
            "parts": parts,
        }
        await store.put(records.FILES, file_id, file)
    except BaseException:
        await _forget_parts(store, file_id)
        raise
    return file


async def _forget_parts(store: records.Records, file_id: str) -> None:
    with contextlib.suppress(weaviate.Unavailable):  # nothing names them: never read again
        await store.delete_where(records.PARTS, records.equal("fileId", file_id))


def quota(message: str) -> errors.GatewayError:
    return errors.GatewayError(
        403, message, type=errors.INVALID_REQUEST, code="storage_quota_exceeded"
    )


async def content(store: records.Records, file: dict[str, Any]) -> AsyncIterator[bytes]:
    for seq in range(file["parts"]):
        part = await store.client.get(
            records.PARTS, weaviate.object_id(records.PARTS, f"{file['fileId']}:{seq}")
        )
        if part is None:
            raise weaviate.Unavailable(f"part {seq} of {file['fileId']} is missing")
        yield base64.b64decode(part["data"])


async def read_all(store: records.Records, file: dict[str, Any]) -> bytes:
    return b"".join([part async for part in content(store, file)])


async def delete(store: records.Records, file: dict[str, Any]) -> None:
    """The file, its parts, its chunks in every store and its place in them."""
    file_id = file["fileId"]
    await store.delete(records.FILES, file_id)
    await store.delete_where(records.CHUNKS, records.equal("fileId", file_id))
    await store.delete_where(records.STORE_FILES, records.equal("fileId", file_id))
    await _forget_parts(store, file_id)
