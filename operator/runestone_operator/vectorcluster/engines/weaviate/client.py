"""The one module that talks to Weaviate's REST API (through aiohttp), on a member's client port.

The operator asks Weaviate only what the Kubernetes API cannot tell: where shards live (before a
scale-down, and for the status) and how backups and restores go. Errors surface as
`engine.EngineError`, whose message never carries a key, a header or a response body beyond
Weaviate's own short error text."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from runestone_operator.vectorcluster import engine

TIMEOUT_SECONDS = 15.0
_MAX_DETAIL = 300
REFUSED = frozenset({400, 422})
"""Statuses with which Weaviate refuses a request for reasons a retry cannot change."""


def _detail(text: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        return text[:_MAX_DETAIL]
    errors = document.get("error") if isinstance(document, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message", ""))[:_MAX_DETAIL]
    return text[:_MAX_DETAIL]


async def call(endpoint: engine.Endpoint, method: str, path: str, body: Any = None) -> Any:
    """One request; the decoded JSON answer (None when empty). Raises `engine.EngineError`."""
    headers = {"Accept": "application/json"}
    if endpoint.api_key:
        headers["Authorization"] = f"Bearer {endpoint.api_key}"
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    context = endpoint.ssl_context()
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(
                method,
                endpoint.base_url + path,
                json=body,
                headers=headers,
                ssl=context if context is not None else True,
                server_hostname=endpoint.server_hostname if context is not None else None,
            ) as response,
        ):
            text = await response.text()
            if response.status >= 300:
                raise engine.EngineError(
                    response.status,
                    f"{method} {path}: HTTP {response.status}: {_detail(text)}",
                    refused=response.status in REFUSED,
                )
            return json.loads(text) if text.strip() else None
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        raise engine.EngineError(0, f"{method} {path}: {type(error).__name__}") from None


async def nodes(endpoint: engine.Endpoint) -> dict[str, Any]:
    """`/v1/nodes?output=verbose`: every member Weaviate knows, with its shards."""
    answer = await call(endpoint, "GET", "/v1/nodes?output=verbose")
    return answer if isinstance(answer, dict) else {}


async def _status(endpoint: engine.Endpoint, path: str) -> dict[str, Any] | None:
    """A backup or restore status; None when Weaviate knows no such operation (HTTP 404)."""
    try:
        answer = await call(endpoint, "GET", path)
    except engine.EngineError as error:
        if error.status == 404:
            return None
        raise
    return answer if isinstance(answer, dict) else {}


async def backup_status(
    endpoint: engine.Endpoint, backend: str, backup_id: str
) -> dict[str, Any] | None:
    """The status of a backup (None when the backend holds no such backup)."""
    return await _status(endpoint, f"/v1/backups/{backend}/{backup_id}")


async def create_backup(endpoint: engine.Endpoint, backend: str, backup_id: str) -> dict[str, Any]:
    """Start a backup of every collection; Weaviate runs it in the background."""
    answer = await call(endpoint, "POST", f"/v1/backups/{backend}", {"id": backup_id})
    return answer if isinstance(answer, dict) else {}


async def restore_status(
    endpoint: engine.Endpoint, backend: str, backup_id: str
) -> dict[str, Any] | None:
    """The status of the restore of a backup (None when none was started)."""
    return await _status(endpoint, f"/v1/backups/{backend}/{backup_id}/restore")


async def create_restore(
    endpoint: engine.Endpoint, backend: str, backup_id: str, node_mapping: dict[str, str]
) -> dict[str, Any]:
    """Start restoring every collection of a backup; Weaviate runs it in the background.
    `node_mapping` names, for each node the backup was taken on, the node that takes its data.
    Raises `engine.BackupNotFound` when the backend holds no such backup."""
    path = f"/v1/backups/{backend}/{backup_id}/restore"
    try:
        answer = await call(endpoint, "POST", path, {"node_mapping": node_mapping})
    except engine.EngineError as error:
        if error.status == 404:
            raise engine.BackupNotFound(str(error)) from None
        raise
    return answer if isinstance(answer, dict) else {}
