"""tls.mode certManager: Degraded with a clear message while cert-manager is not installed; once
its Certificate API exists, a Certificate is created and the gateway waits for its Secret."""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterator

import pytest
from kubernetes import client

from devcluster.kube import eventually
from integration.operator import objects, standins
from runestone_operator.core import pki
from runestone_operator.gateway import names


@pytest.fixture
def certificate_api(kube_api: client.ApiClient) -> Iterator[None]:
    """A stand-in for cert-manager's Certificate CRD (the API only; no controller)."""
    with standins.installed(kube_api, standins.CERTIFICATE_CRD):
        yield


def _gateway() -> dict[str, object]:
    return objects.gateway(
        "certified",
        tls={"mode": "certManager", "issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}},
    )


def test_without_cert_manager_the_gateway_is_degraded(
    kube_api: client.ApiClient, namespace: str
) -> None:
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(kube_api, namespace, _gateway())
    obj = eventually(
        lambda: objects.condition_is(
            kube_api, namespace, "gateways", "certified", "Degraded", "True", "CertManagerMissing"
        ),
        timeout=60,
        what="Degraded CertManagerMissing",
    )
    assert "cert-manager" in objects.must(objects.condition(obj, "Degraded"))["message"]
    assert not objects.exists(
        client.AppsV1Api(kube_api).read_namespaced_deployment, "certified", namespace
    )


def test_with_cert_manager_a_certificate_is_requested(
    kube_api: client.ApiClient, namespace: str, certificate_api: None
) -> None:
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(kube_api, namespace, _gateway())
    certificate = eventually(
        lambda: objects.custom(kube_api).get_namespaced_custom_object(
            "cert-manager.io", "v1", namespace, "certificates", "certified"
        ),
        timeout=60,
        what="the Certificate",
    )
    spec = certificate["spec"]
    assert spec["secretName"] == "certified-tls"
    assert spec["issuerRef"] == {
        "name": "corp-ca",
        "kind": "ClusterIssuer",
        "group": "cert-manager.io",
    }
    assert spec["dnsNames"] == names.service_dns_names("certified", namespace)
    assert certificate["metadata"]["ownerReferences"][0]["kind"] == "Gateway"
    eventually(
        lambda: objects.condition_is(
            kube_api,
            namespace,
            "gateways",
            "certified",
            "Progressing",
            "True",
            "WaitingForCertificate",
        ),
        what="Progressing WaitingForCertificate",
    )
    apps = client.AppsV1Api(kube_api)
    assert not objects.exists(apps.read_namespaced_deployment, "certified", namespace)

    # Play cert-manager: issue the Secret; the gateway is then rolled out with it.
    now = datetime.datetime.now(datetime.UTC)
    ca = pki.issue_ca("stand-in issuer", now, datetime.timedelta(days=10))
    serving = pki.issue_serving(ca, spec["dnsNames"], now, datetime.timedelta(days=1))
    client.CoreV1Api(kube_api).create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="certified-tls"),
            type="kubernetes.io/tls",
            data={
                "tls.crt": base64.b64encode(serving.cert_pem.encode()).decode(),
                "tls.key": base64.b64encode(serving.key_pem.encode()).decode(),
            },
        ),
    )
    deployment = eventually(
        lambda: apps.read_namespaced_deployment("certified", namespace),
        timeout=90,
        what="the Deployment",
    )
    volumes = {v.name: v for v in deployment.spec.template.spec.volumes}
    assert volumes["tls"].secret.secret_name == "certified-tls"
    eventually(
        lambda: objects.condition_is(
            kube_api, namespace, "gateways", "certified", "Degraded", "False"
        ),
        what="no problem left",
    )
    # The operator never writes the cert-manager Secret itself, nor its own CA.
    for own in ("certified-ca", "certified-ca-key"):
        assert not objects.exists(client.CoreV1Api(kube_api).read_namespaced_secret, own, namespace)
