"""The one module that talks to the Kubernetes API server (through kubernetes_asyncio).

Children are written with server-side apply under a single field manager, so applying the same
desired state again is a no-op on the server: no write, no new resourceVersion. Errors surface as
`ApiError`, whose message never carries a request or response body (they may hold secrets)."""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import aiohttp.helpers
import orjson
import yarl
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio.client.exceptions import ApiException

from runestone_operator.core import kinds

Object = dict[str, Any]

REQUEST_TIMEOUT_SECONDS = 30
_KEYLIKE = re.compile(r"rsk_[A-Za-z0-9_-]+|[A-Za-z0-9+/=]{40,}")


@dataclass(frozen=True)
class Request:
    """What a call asked the API server for, in RBAC terms (verb, resource, namespace), so that a
    refusal can say exactly which permission was missing. Never anything from a request body."""

    verb: str
    resource: str
    """Plural and group, as in a ClusterRole, e.g. "horizontalpodautoscalers.autoscaling"."""
    namespace: str | None = None
    name: str | None = None

    def __str__(self) -> str:
        text = f"{self.verb} {self.resource}"
        if self.name:
            text += f" {self.name!r}"
        return text + (f" in namespace {self.namespace!r}" if self.namespace else " cluster-wide")


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the API."""

    group: str
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def request(
        self, verb: str, namespace: str | None, name: str | None = None, sub: str | None = None
    ) -> Request:
        """A call on this resource, named the way RBAC names it."""
        qualified = f"{self.plural}.{self.group}" if self.group else self.plural
        return Request(verb, f"{qualified}/{sub}" if sub else qualified, namespace, name)

    def path(self, namespace: str | None, name: str | None = None, sub: str | None = None) -> str:
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace is not None:
            root += f"/namespaces/{quote(namespace, safe='')}"
        root += f"/{self.plural}"
        if name is not None:
            root += f"/{quote(name, safe='')}"
        if sub is not None:
            root += f"/{sub}"
        return root


RESOURCES: dict[tuple[str, str], Resource] = {
    ("v1", "ConfigMap"): Resource("", "v1", "configmaps"),
    ("v1", "Secret"): Resource("", "v1", "secrets"),
    ("v1", "Service"): Resource("", "v1", "services"),
    ("v1", "ServiceAccount"): Resource("", "v1", "serviceaccounts"),
    ("v1", "Pod"): Resource("", "v1", "pods"),
    ("v1", "Event"): Resource("", "v1", "events"),
    ("apps/v1", "Deployment"): Resource("apps", "v1", "deployments"),
    ("apps/v1", "StatefulSet"): Resource("apps", "v1", "statefulsets"),
    ("v1", "PersistentVolumeClaim"): Resource("", "v1", "persistentvolumeclaims"),
    ("batch/v1", "CronJob"): Resource("batch", "v1", "cronjobs"),
    ("networking.k8s.io/v1", "NetworkPolicy"): Resource(
        "networking.k8s.io", "v1", "networkpolicies"
    ),
    ("rbac.authorization.k8s.io/v1", "Role"): Resource("rbac.authorization.k8s.io", "v1", "roles"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): Resource(
        "rbac.authorization.k8s.io", "v1", "rolebindings"
    ),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): Resource(
        "autoscaling", "v2", "horizontalpodautoscalers"
    ),
    ("policy/v1", "PodDisruptionBudget"): Resource("policy", "v1", "poddisruptionbudgets"),
    ("cert-manager.io/v1", "Certificate"): Resource("cert-manager.io", "v1", "certificates"),
    ("coordination.k8s.io/v1", "Lease"): Resource("coordination.k8s.io", "v1", "leases"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): Resource(
        "monitoring.coreos.com", "v1", "servicemonitors"
    ),
    **{
        (kinds.API_VERSION, kind.name): Resource(kinds.GROUP, kinds.VERSION, kind.plural)
        for kind in kinds.ALL
    },
}


def resource(api_version: str, kind: str) -> Resource:
    return RESOURCES[(api_version, kind)]


class ApiError(Exception):
    """A failed API call. `status` is the HTTP status (0 when the server was not reached);
    `request` what was asked for, when known; `reason` the HTTP reason phrase."""

    def __init__(
        self, status: int, message: str, request: Request | None = None, reason: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.request = request
        self.reason = reason

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def forbidden(self) -> bool:
        """Refused by authorization (RBAC) or by an admission policy."""
        return self.status == 403


def _scrub(text: str) -> str:
    return _KEYLIKE.sub("<redacted>", text)[:500]


def _error(
    error: ApiException, method: str, kind: str, name: str | None, request: Request | None
) -> ApiError:
    detail = ""
    body = error.body
    if isinstance(body, str) and body.startswith("{"):
        try:
            detail = str(json.loads(body).get("message", ""))
        except ValueError:
            detail = ""
    target = f"{kind} {name}" if name else kind
    text = f"{method} {target}: HTTP {error.status} {error.reason}"
    if detail:
        text += f": {_scrub(detail)}"
    return ApiError(int(error.status or 0), text, request, str(error.reason or ""))


def api_client(configuration: k8s.Configuration) -> k8s.ApiClient:
    """A client whose proxy, if any, is the environment's for the API server, looked up once.

    kubernetes_asyncio's session trusts the environment, which makes aiohttp look up a proxy
    and a .netrc entry on a worker thread for every request: two thread hand-offs per API call,
    about a tenth of the operator's CPU at scale. The answer cannot change while the process
    runs, so it is taken here and the per-request lookups are turned off."""
    if configuration.proxy is None:
        with contextlib.suppress(LookupError):
            proxy, auth = aiohttp.helpers.get_env_proxy_for_url(yarl.URL(configuration.host))
            configuration.proxy = str(proxy)
            if auth is not None:
                configuration.proxy_headers = {"Proxy-Authorization": auth.encode()}
    api = k8s.ApiClient(configuration=configuration)
    session: aiohttp.ClientSession = api.rest_client.pool_manager
    session._trust_env = False  # aiohttp offers no setter; the attribute is pinned with it
    return api


Observer = Callable[[str, str, int], None]
"""Told of every call once it ended: (verb, resource, HTTP status; 0 when there was no answer)."""


class Kube:
    """A connection to the API server, writing as `field_manager`."""

    def __init__(
        self, api: k8s.ApiClient, field_manager: str, observe: Observer | None = None
    ) -> None:
        self._api = api
        self._field_manager = field_manager
        self._observe = observe
        self._served: dict[str, tuple[float, bool]] = {}

    @classmethod
    async def connect(cls, field_manager: str, observe: Observer | None = None) -> Kube:
        """In-cluster credentials when running in a pod, otherwise the kubeconfig."""
        configuration = k8s.Configuration()
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except k8s_config.ConfigException:
            await k8s_config.load_kube_config(client_configuration=configuration)
        return cls(api_client(configuration), field_manager, observe)

    async def close(self) -> None:
        await self._api.close()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        kind: str,
        name: str | None = None,
        body: Object | None = None,
        query: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
        request: Request | None = None,
    ) -> Object:
        status = 0
        try:
            # The answer's body is read here and parsed with orjson: the client's own parsing
            # (json, then a walk over the result) was a tenth of the operator's CPU at scale.
            response = await self._api.call_api(
                path,
                method,
                query_params=query or [],
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT_SECONDS,
            )
            try:
                data = await response.read()
            finally:
                response.release()
            status = int(response.status)
            if not 200 <= status <= 299:
                refused = ApiException(status=status, reason=response.reason)
                refused.body = data.decode(errors="replace")
                raise refused
            result = orjson.loads(data) if data else None
        except ApiException as error:
            status = int(error.status or 0)
            raise _error(error, method, kind, name, request) from None
        except (OSError, TimeoutError, aiohttp.ClientError, orjson.JSONDecodeError) as error:
            reason = type(error).__name__
            raise ApiError(0, f"{method} {kind}: {reason}", request, reason) from None
        finally:
            if self._observe is not None:
                verb, resource = (request.verb, request.resource) if request else (method, kind)
                self._observe(verb, resource, status)
        return result if isinstance(result, dict) else {}

    async def get(self, api_version: str, kind: str, namespace: str, name: str) -> Object | None:
        """The object, or None when it does not exist."""
        target = resource(api_version, kind)
        try:
            return await self._call(
                "GET",
                target.path(namespace, name),
                kind=kind,
                name=name,
                request=target.request("get", namespace, name),
            )
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> list[Object]:
        """Every object of a kind in `namespace` (all namespaces when None), as selected."""
        target = resource(api_version, kind)
        query = [("labelSelector", label_selector)] if label_selector else []
        query += [("fieldSelector", field_selector)] if field_selector else []
        listed = await self._call(
            "GET",
            target.path(namespace),
            kind=kind,
            query=query,
            request=target.request("list", namespace),
        )
        items: list[Object] = listed.get("items") or []
        return items

    async def apply(self, manifest: Mapping[str, Any]) -> Object:
        """Server-side apply of a namespaced object, taking over any conflicting field."""
        meta = manifest["metadata"]
        target = resource(manifest["apiVersion"], manifest["kind"])
        return await self._call(
            "PATCH",
            target.path(meta["namespace"], meta["name"]),
            kind=manifest["kind"],
            name=meta["name"],
            body=dict(manifest),
            query=[("fieldManager", self._field_manager), ("force", "true")],
            content_type="application/apply-patch+yaml",
            request=target.request("patch", meta["namespace"], meta["name"]),
        )

    async def apply_status(
        self, api_version: str, kind: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> Object:
        """Server-side apply of the status subresource."""
        body = {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": name, "namespace": namespace},
            "status": dict(status),
        }
        target = resource(api_version, kind)
        return await self._call(
            "PATCH",
            target.path(namespace, name, "status"),
            kind=kind,
            name=name,
            body=body,
            query=[("fieldManager", self._field_manager), ("force", "true")],
            content_type="application/apply-patch+yaml",
            request=target.request("patch", namespace, name, "status"),
        )

    async def update(self, manifest: Mapping[str, Any]) -> Object:
        """Replace a namespaced object (PUT). With `metadata.resourceVersion` set, the server
        refuses it (409, `ApiError.conflict`) when the object changed since it was read."""
        meta = manifest["metadata"]
        target = resource(manifest["apiVersion"], manifest["kind"])
        return await self._call(
            "PUT",
            target.path(meta["namespace"], meta["name"]),
            kind=manifest["kind"],
            name=meta["name"],
            body=dict(manifest),
            query=[("fieldManager", self._field_manager)],
            request=target.request("update", meta["namespace"], meta["name"]),
        )

    async def create(self, manifest: Mapping[str, Any]) -> Object:
        meta = manifest["metadata"]
        target = resource(manifest["apiVersion"], manifest["kind"])
        return await self._call(
            "POST",
            target.path(meta["namespace"]),
            kind=manifest["kind"],
            body=dict(manifest),
            query=[("fieldManager", self._field_manager)],
            request=target.request("create", meta["namespace"]),
        )

    async def delete(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        name: str,
        uid: str | None = None,
        resource_version: str | None = None,
    ) -> bool:
        """Delete one object; False if it is absent or, when `uid` or `resource_version` is given,
        no longer that exact object (replaced, changed, or already being deleted by an earlier
        call): a decision taken on a stale read is then not carried out twice."""
        body: Object = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": "Background",
        }
        preconditions = {"uid": uid, "resourceVersion": resource_version}
        if any(preconditions.values()):
            body["preconditions"] = {k: v for k, v in preconditions.items() if v}
        target = resource(api_version, kind)
        try:
            await self._call(
                "DELETE",
                target.path(namespace, name),
                kind=kind,
                name=name,
                body=body,
                request=target.request("delete", namespace, name),
            )
        except ApiError as error:
            if error.status == 404 or (error.status == 409 and "preconditions" in body):
                return False
            raise
        return True

    async def serves(self, group_version: str, max_age: float = 0.0) -> bool:
        """True when the API server serves `group_version` (e.g. a CRD's group is installed).
        With `max_age`, an answer read at most that many seconds ago is reused: for callers that
        only tidy up, to whom a CRD installed a moment ago makes no difference."""
        now = time.monotonic()
        known = self._served.get(group_version)
        if known is not None and now - known[0] <= max_age:
            return known[1]
        try:
            path = f"/apis/{group_version}"
            await self._call("GET", path, kind=group_version, request=Request("get", path))
            served = True
        except ApiError as error:
            if error.status != 404:
                raise
            served = False
        self._served[group_version] = (now, served)
        return served
