"""Working with VectorClusters in a test namespace: create and change them, read what the operator
reports, and reach their members the way a client in the cluster would."""

from __future__ import annotations

import base64
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devcluster import storage, versions
from devcluster import weaviate as wv
from devcluster.kube import eventually

GROUP, VERSION, PLURAL = "runestone.dev", "v1alpha1", "vectorclusters"
GATE = "runestone.dev/member-ready"
COLLECTION = "Article"


def spec(**overrides: Any) -> dict[str, Any]:
    """A VectorCluster spec for this host: small volumes of the local StorageClass."""
    base: dict[str, Any] = {
        "version": versions.WEAVIATE.version.removeprefix("v"),
        "replicas": 3,
        "storage": {"size": "1Gi", "storageClassName": storage.STORAGE_CLASS},
        "apiKeys": [{"name": "gateway", "role": "admin"}, {"name": "analytics", "role": "viewer"}],
        "tls": {"mode": "selfSigned"},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
    }
    return {**base, **overrides}


def manifest(name: str, body: dict[str, Any]) -> dict[str, Any]:
    """A VectorCluster named `name` with the spec `body`, as a client would apply it."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "VectorCluster",
        "metadata": {"name": name},
        "spec": body,
    }


def member_selector(name: str) -> str:
    """The label selector of the member pods of the VectorCluster `name`."""
    return (
        f"app.kubernetes.io/name=runestone-vectorcluster,app.kubernetes.io/instance={name},"
        "app.kubernetes.io/component=weaviate"
    )


def served(address: str, port: int = 8443) -> str:
    """The certificate a member serves at `address` (read without verifying it)."""
    return ssl.get_server_certificate((address, port), timeout=10)


def signed_by(cert_pem: str, ca_pem: str) -> bool:
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    try:
        cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem.encode()))
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def certificates(bundle: str) -> list[str]:
    """The certificates of a PEM bundle, one PEM text each."""
    return [
        cert.public_bytes(serialization.Encoding.PEM).decode()
        for cert in x509.load_pem_x509_certificates(bundle.encode())
    ]


def vector(i: int) -> list[float]:
    return [float(i % 7), float(i % 5), float(i % 3), 1.0]


def wait_indexed(member: wv.Client, timeout: float = 60) -> None:
    """Until no member has a vector waiting to be indexed. Members index asynchronously (see
    docs/vectorcluster.md), so objects just inserted are found by search a moment later."""
    eventually(
        lambda: wv.wait_for(lambda: member.queued() == 0), timeout=timeout, what="vectors indexed"
    )


def objects(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"properties": {"title": f"doc {i}"}, "vector": vector(i)}
        for i in range(start, start + count)
    ]


@dataclass
class Clusters:
    api: client.ApiClient
    namespace: str
    kubelet: Path

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    # -- the custom resource ---------------------------------------------------------------------

    def create(self, name: str, body: dict[str, Any]) -> None:
        self.custom.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, manifest(name, body)
        )

    def get(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name
        )
        return found

    def patch(self, name: str, body: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, body
        )

    def annotate(self, name: str, key: str, value: str) -> None:
        self.patch(name, {"metadata": {"annotations": {key: value}}})

    def delete(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)

    def condition(self, name: str, kind: str) -> dict[str, Any] | None:
        for condition in self.get(name).get("status", {}).get("conditions") or []:
            if condition["type"] == kind:
                return dict(condition)
        return None

    def wait_condition(
        self, name: str, kind: str, status: str, timeout: float = 300, reason: str | None = None
    ) -> dict[str, Any]:
        def matches() -> dict[str, Any]:
            found = self.condition(name, kind)
            if found and found["status"] == status and reason in (None, found["reason"]):
                return found
            return {}

        return eventually(
            matches, timeout=timeout, interval=1, what=f"{name} {kind}={status} ({reason or 'any'})"
        )

    # -- members ---------------------------------------------------------------------------------

    def pods(self, name: str) -> list[Any]:
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=member_selector(name)
        ).items
        return sorted(pods, key=lambda p: p.metadata.name)

    def gate(self, pod: str) -> str | None:
        found = self.core.read_namespaced_pod(pod, self.namespace)
        for condition in found.status.conditions or []:
            if condition.type == GATE:
                return str(condition.status)
        return None

    def secret_value(self, secret: str, key: str) -> str:
        data = self.core.read_namespaced_secret(secret, self.namespace).data or {}
        return base64.b64decode(data[key]).decode()

    def key(self, name: str, key_name: str) -> str:
        return self.secret_value(f"{name}-key-{key_name}", "api-key")

    def tls_context(self, name: str, secret: str | None = None) -> ssl.SSLContext:
        """Trusting the `ca.crt` bundle of `secret` (the TLS Secret `<name>-tls` by default; the
        published bundle is `<name>-ca`)."""
        return ssl.create_default_context(
            cadata=self.secret_value(secret or f"{name}-tls", "ca.crt")
        )

    def address(self, pod: str) -> str:
        found = self.core.read_namespaced_pod(pod, self.namespace)
        if not found.status.pod_ip:
            raise LookupError(f"{pod} has no IP yet")
        return str(found.status.pod_ip)

    def member(self, name: str, pod: str, key: str | None, tls: bool = True) -> wv.Client:
        """Weaviate at one member's client port, as a client holding the cluster's CA would."""
        address = self.address(pod)
        if not tls:
            return wv.Client(wv.member_url(address), key)
        return wv.Client(
            wv.member_url(address, 8443, "https"),
            key,
            verify=self.tls_context(name),
            sni_hostname=f"{name}.{self.namespace}.svc",
        )

    def all_serve_from(self, name: str, members: int, ca_pem: str) -> bool:
        """Every member of cluster `name` serves a certificate that `ca_pem` signed."""
        return all(signed_by(served(self.address(f"{name}-{i}")), ca_pem) for i in range(members))

    def refuses_a_client_trusting_only(self, name: str, key: str, ca_pem: str) -> bool:
        """True when member 1 of cluster `name` fails the TLS handshake of a client that trusts
        only `ca_pem` (a client that never re-read the bundle)."""
        stale = wv.Client(
            wv.member_url(self.address(f"{name}-1"), 8443, "https"),
            key,
            verify=ssl.create_default_context(cadata=ca_pem),
            sni_hostname=f"{name}.{self.namespace}.svc",
        )
        try:
            stale.request("GET", "/v1/nodes")
        except httpx.ConnectError:
            return True
        return False

    def ready_addresses(self, name: str) -> list[str]:
        """The ready endpoints of the client Service, as kube-proxy would route to them."""
        slices = client.DiscoveryV1Api(self.api).list_namespaced_endpoint_slice(
            self.namespace, label_selector=f"kubernetes.io/service-name={name}"
        )
        found = []
        for item in slices.items:
            for endpoint in item.endpoints or []:
                if endpoint.conditions and endpoint.conditions.ready:
                    found += list(endpoint.addresses)
        return sorted(found)

    def run_pod(self, name: str, pod_spec: dict[str, Any]) -> None:
        """Run a pod spec (for example a CronJob's job template) as a bare pod."""
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": pod_spec}
        self.core.create_namespaced_pod(self.namespace, body)


@dataclass
class Load:
    """Queries at a steady pace against the client Service's ready endpoints, counting failures."""

    clusters: Clusters
    name: str
    key: str
    ids: list[str]
    interval: float = 0.1
    trust_refresh: float | None = None
    """Re-read the CA bundle (the TLS Secret's ca.crt) this often, as a client following the
    documented advice does; None keeps the bundle read at the start."""
    trust_secret: str | None = None
    """The Secret whose ca.crt is the bundle (`Clusters.tls_context`)."""
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    fewest_ready: int = 99
    _stop: threading.Event = field(default_factory=threading.Event)

    def _client(self, address: str, context: ssl.SSLContext) -> wv.Client:
        return wv.Client(
            wv.member_url(address, 8443, "https"),
            self.key,
            timeout=10,
            verify=context,
            sni_hostname=f"{self.name}.{self.clusters.namespace}.svc",
        )

    def run(self) -> None:
        context = self.clusters.tls_context(self.name, self.trust_secret)
        trusted = time.monotonic()
        endpoints: list[str] = []
        refreshed = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if self.trust_refresh is not None and now - trusted > self.trust_refresh:
                with suppress(ApiException, OSError):
                    context = self.clusters.tls_context(self.name, self.trust_secret)
                    trusted = now
            if now - refreshed > 0.5:  # kube-proxy follows EndpointSlices with a small lag too
                try:
                    endpoints = self.clusters.ready_addresses(self.name)
                    self.fewest_ready = min(self.fewest_ready, len(endpoints))
                    refreshed = now
                except (ApiException, OSError):
                    pass
            if not endpoints:
                self.failed.append("no ready endpoint")
                self.sent += 1
                time.sleep(self.interval)
                continue
            member = self._client(endpoints[self.sent % len(endpoints)], context)
            self.sent += 1
            try:
                if self.sent % 2:
                    assert len(member.near_vector(COLLECTION, vector(self.sent))) == 3
                else:
                    member.get(COLLECTION, self.ids[self.sent % len(self.ids)])
            except (wv.WeaviateError, httpx.HTTPError, AssertionError) as error:
                self.failed.append(f"{time.strftime('%X')} {type(error).__name__}: {error}"[:300])
            time.sleep(self.interval)

    def summary(self) -> str:
        """How it went, with the first failures."""
        lines = [
            f"{self.sent} queries, {len(self.failed)} failed; fewest ready {self.fewest_ready}"
        ]
        return "\n".join([*lines, *(f"  failed: {failure}" for failure in self.failed[:20])])

    @contextmanager
    def running(self) -> Iterator[Load]:
        thread = threading.Thread(target=self.run, name="query-load", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=30)
