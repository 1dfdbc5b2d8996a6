"""The one module that talks to the Kubernetes API server: read and patch this pod's status.

Both go through the `pods/status` subresource, so the sidecar's RBAC needs only `get` and
`patch` on `pods/status` in its namespace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from runestone_sidecar import httpclient, kubeconfig

STRATEGIC_MERGE = "application/strategic-merge-patch+json"

# ApiError kinds, also the `kind` label of the patch-error metric.
UNREACHABLE = "unreachable"
CONFLICT = "conflict"
FORBIDDEN = "forbidden"
UNAUTHORIZED = "unauthorized"
NOT_FOUND = "not_found"
SERVER = "server"
OTHER = "other"

_KINDS = {401: UNAUTHORIZED, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT}


class ApiError(Exception):
    """The API server refused a request (`status` > 0) or could not be reached (`status` 0)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    @property
    def kind(self) -> str:
        if self.status == 0:
            return UNREACHABLE
        if self.status in _KINDS:
            return _KINDS[self.status]
        return SERVER if self.status >= 500 or self.status == 429 else OTHER


@dataclass(frozen=True)
class PodStatusApi:
    access: kubeconfig.ApiAccess
    namespace: str
    pod: str
    timeout: float = 10.0

    @property
    def path(self) -> str:
        return f"/api/v1/namespaces/{quote(self.namespace)}/pods/{quote(self.pod)}/status"

    async def read(self) -> dict[str, Any]:
        """A fresh read of the pod (the status subresource returns the whole object)."""
        return await self._call("GET", None, {})

    async def patch(self, body: dict[str, Any]) -> dict[str, Any]:
        """Strategic-merge patch of the pod's status; 409 when its resourceVersion is stale."""
        return await self._call(
            "PATCH", json.dumps(body).encode(), {"Content-Type": STRATEGIC_MERGE}
        )

    async def _call(self, method: str, body: bytes | None, extra: dict[str, str]) -> dict[str, Any]:
        headers = {"Accept": "application/json", **extra}
        token = self.access.bearer_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = await httpclient.request(
                method,
                self.access.server + self.path,
                headers=headers,
                body=body,
                ssl_context=self.access.ssl_context,
                server_hostname=self.access.tls_server_name,
                time_limit=self.timeout,
            )
        except httpclient.TransportError as error:
            raise ApiError(0, f"API server unreachable: {error.message}") from None
        if response.status != 200:
            raise ApiError(response.status, _status_message(method, self.pod, response))
        try:
            decoded = json.loads(response.body)
        except ValueError:
            raise ApiError(502, f"{method} pod {self.pod}: the API server sent non-JSON") from None
        if not isinstance(decoded, dict):
            raise ApiError(502, f"{method} pod {self.pod}: the API server sent a non-object")
        return decoded


def _status_message(method: str, pod: str, response: httpclient.Response) -> str:
    """The API server's own explanation (a metav1.Status), which names the policy that refused."""
    detail = response.text()
    try:
        status = json.loads(response.body)
        if isinstance(status, dict) and status.get("message"):
            detail = " ".join(str(status["message"]).split())
    except ValueError:
        pass
    return f"{method} pod {pod} status: {response.status} {detail}"[:600]
