"""The operator's serving certificate is replaced before it expires, by the same CA and for the
same names, without touching the pods (the gateway re-reads its mounted TLS files)."""

from __future__ import annotations

import base64
import datetime

from kubernetes import client

from harness.kube import eventually
from integration.operator import objects
from runestone_operator import names, pki

LIFETIME = pki.Lifetime(datetime.timedelta(seconds=60), datetime.timedelta(seconds=45))


def _tls(core: client.CoreV1Api, namespace: str) -> dict[str, str]:
    data = core.read_namespaced_secret("short-tls", namespace).data
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def test_short_lived_certificate_is_rotated_before_expiry(
    kube_api: client.ApiClient, namespace: str
) -> None:
    core, apps = client.CoreV1Api(kube_api), client.AppsV1Api(kube_api)
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(
        kube_api,
        namespace,
        objects.gateway(
            "short", tls={"mode": "selfSigned", "duration": "60s", "renewBefore": "45s"}
        ),
    )
    first = eventually(lambda: _tls(core, namespace), timeout=60, what="the TLS Secret")
    first_info = pki.inspect(first["tls.crt"])
    assert first_info.not_after - first_info.not_before == LIFETIME.duration
    deployment = eventually(
        lambda: apps.read_namespaced_deployment("short", namespace), what="the Deployment"
    )

    def replaced() -> dict[str, str]:
        current = _tls(core, namespace)
        assert pki.inspect(current["tls.crt"]).serial != first_info.serial
        return current

    second = eventually(replaced, timeout=120, interval=0.5, what="the certificate to be rotated")
    second_info = pki.inspect(second["tls.crt"])
    # Issued while the old certificate was still valid, and for a full new lifetime.
    assert second_info.not_before < first_info.not_after
    assert second_info.not_after > first_info.not_after
    assert second_info.dns_names == frozenset(names.service_dns_names("short", namespace))
    # Same CA, so clients keep trusting the gateway across the rotation.
    assert second["ca.crt"] == first["ca.crt"]
    ca = core.read_namespaced_secret("short-ca", namespace).data["tls.crt"]
    assert base64.b64decode(ca).decode() == first["ca.crt"]
    # Signed by that CA, and its key matches (judged as of its first second of validity).
    assert pki.serving_is_usable(
        pki.KeyPair(second["tls.crt"], second["tls.key"]),
        pki.KeyPair(first["ca.crt"], "the CA key is not needed to verify"),
        names.service_dns_names("short", namespace),
        second_info.not_before,
        LIFETIME,
    )
    # No restart: the pod template did not change.
    assert (
        apps.read_namespaced_deployment("short", namespace).metadata.generation
        == deployment.metadata.generation
    )
    issued = core.list_namespaced_event(namespace, field_selector="reason=CertificateIssued").items
    assert len([e for e in issued if "serving certificate" in e.message]) >= 2
