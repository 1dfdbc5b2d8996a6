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
from dataclasses import dataclass
from typing import Any, Protocol

from runestone_gateway import errors
from runestone_gateway.retrieval import quotas, records, weaviate

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
    quota: Quota | None = None,
    announced: int = 0,
) -> dict[str, Any]:
    """Parts are written as the file arrives; the form's other fields may come after it, so
    they are checked at its end (a refusal then deletes the parts). Under a quota, room is held
    before the file streams (as much of the `announced` body as is left), and more before a
    part that goes past it; the hold goes when the upload ends (a failed one's before its parts
    are deleted, so the room is back at once for the uploads still streaming). Once the file's
    record is written the file is kept, whatever fails after."""
    file_id = new_id("file-")
    size = parts = held = 0
    stored = False
    try:
        if quota is not None:
            held = await quota.take(store, owner, file_id, 0, announced)
        while chunk := await source.read(PART_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise errors.GatewayError(
                    413,
                    f"The file is larger than this gateway accepts ({max_bytes} bytes).",
                    type=errors.INVALID_REQUEST,
                    code="file_too_large",
                )
            if quota is not None and size > held:
                held = await quota.take(store, owner, file_id, size)
            elif quota is not None:
                await quota.ledger.hold(owner, file_id, held)  # renewed: still streaming
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
        if quota is None:
            await store.put(records.FILES, file_id, file)
            stored = True
        else:
            async with quota.ledger.lock(owner):  # as the owner's usage is measured
                await store.put(records.FILES, file_id, file)
                stored = True
                await quota.settle(owner, file_id)
    except BaseException:
        if not stored:
            if quota is not None:
                with contextlib.suppress(errors.GatewayError):  # the shared store failed
                    await quota.ledger.release(owner, file_id)
            await _forget(store, file_id)
        raise
    return file


@dataclass(frozen=True)
class Quota:
    """A key's storage limits and the ledger of uploads in flight they are held in."""

    ledger: quotas.Ledger
    max_bytes: int | None
    max_files: int | None

    async def take(
        self, store: records.Records, owner: str, file_id: str, size: int, announced: int = 0
    ) -> int:
        """Hold `size` bytes for the upload (refused when they do not fit), or more: as much of
        `announced` as is left. What it holds now. A refused upload's hold is released before
        the owner's lock is: uploads that each hold part of the room and all ask for more at
        once must not refuse each other on room that only a refused upload still holds."""
        async with self.ledger.lock(owner):
            count, total = await quotas.used(store, self.ledger, owner, file_id)
            refusal = None
            left = None if self.max_bytes is None else self.max_bytes - total
            if self.max_files is not None and count + 1 > self.max_files:
                refusal = (
                    f"The key keeps {count} files (counting uploads in flight), its limit "
                    f"(maxFiles) is {self.max_files}."
                )
            elif left is not None and size > left:
                refusal = (
                    f"The file does not fit in the key's storage limit (maxStoredBytes, "
                    f"{self.max_bytes} bytes; {max(left, 0)} left, counting uploads in flight)."
                )
            if refusal is not None:
                await self.ledger.release(owner, file_id)
                raise _refused(refusal)
            held = max(size, announced if left is None else min(announced, left))
            await self.ledger.hold(owner, file_id, held)
            return held

    async def settle(self, owner: str, file_id: str) -> None:
        """The upload's hold released once its file's record is written (under the owner's
        lock, as usage is measured: counted once, never missed). When the shared store fails
        to release it, the hold goes stale after quotas.STALE_SECONDS; until then the file
        counts twice, which refuses uploads early but never stores more than the quota."""
        with contextlib.suppress(errors.GatewayError):
            await self.ledger.release(owner, file_id)


async def _forget(store: records.Records, file_id: str) -> None:
    """A failed upload's parts, and its file record in case a write that failed landed."""
    with contextlib.suppress(weaviate.Unavailable):
        await store.delete(records.FILES, file_id)
    await _forget_parts(store, file_id)


async def _forget_parts(store: records.Records, file_id: str) -> None:
    with contextlib.suppress(weaviate.Unavailable):  # nothing names them: never read again
        await store.delete_where(records.PARTS, records.equal("fileId", file_id))


def _refused(message: str) -> errors.GatewayError:
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
