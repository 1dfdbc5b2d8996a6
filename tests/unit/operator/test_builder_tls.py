"""TLS Secrets and the cert-manager Certificate, named and labelled as the kind says."""

from __future__ import annotations

import base64
import datetime

import pytest

from runestone_operator.core import meta, models, pki
from runestone_operator.core.builders import tls
from runestone_operator.gateway import names

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
LABELS = {"app.kubernetes.io/name": "example"}


def test_serving_secret_carries_the_pair_and_ca(owner: meta.Owner) -> None:
    ca = pki.issue_ca("ca", NOW, datetime.timedelta(days=10))
    serving = pki.issue_serving(ca, ["main"], NOW, datetime.timedelta(days=1))
    secret = tls.tls_secret(owner, "main-tls", LABELS, serving, ca.cert_pem)
    assert secret["metadata"]["name"] == "main-tls"
    assert secret["metadata"]["labels"] == LABELS
    assert secret["metadata"]["ownerReferences"][0]["uid"] == owner.uid
    assert secret["type"] == "kubernetes.io/tls"
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == {
        "tls.crt": serving.cert_pem,
        "tls.key": serving.key_pem,
        "ca.crt": ca.cert_pem,
    }


def test_ca_secret_publishes_the_bundle_signer_first(owner: meta.Owner) -> None:
    old = pki.issue_ca("old", NOW, datetime.timedelta(days=10))
    new = pki.issue_ca("new", NOW, datetime.timedelta(days=10))
    secret = tls.ca_secret(owner, "main-ca", LABELS, pki.Authority(new, (old.cert_pem,)))
    assert secret["metadata"]["name"] == "main-ca"
    assert secret["type"] == "kubernetes.io/tls"
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    bundle = new.cert_pem + old.cert_pem
    assert decoded == {"tls.crt": bundle, "tls.key": new.key_pem, "ca.crt": bundle}
    # tls.crt + tls.key still read back as the signing pair.
    assert pki.authority(decoded["tls.crt"], decoded["tls.key"]) == pki.Authority(
        new, (old.cert_pem,)
    )


def test_ca_secret_without_rotation_holds_one_ca(owner: meta.Owner) -> None:
    ca = pki.issue_ca("ca", NOW, datetime.timedelta(days=10))
    data = tls.ca_secret(owner, "main-ca", LABELS, pki.Authority(ca))["data"]
    assert base64.b64decode(data["tls.crt"]).decode() == ca.cert_pem
    assert data["ca.crt"] == data["tls.crt"]


def test_certificate(owner: meta.Owner) -> None:
    spec = models.Tls.model_validate(
        {"mode": "certManager", "issuerRef": {"name": "corp", "kind": "ClusterIssuer"}}
    )
    dns_names = names.service_dns_names("main", "team")
    manifest = tls.certificate(owner, "main", LABELS, "main-tls", dns_names, spec)
    assert manifest["apiVersion"] == "cert-manager.io/v1"
    assert manifest["kind"] == "Certificate"
    body = manifest["spec"]
    assert body["secretName"] == "main-tls"
    assert body["dnsNames"] == ["main", "main.team", "main.team.svc", "main.team.svc.cluster.local"]
    assert body["issuerRef"] == {
        "name": "corp",
        "kind": "ClusterIssuer",
        "group": "cert-manager.io",
    }
    assert (body["duration"], body["renewBefore"]) == ("2160h", "720h")
    assert body["secretTemplate"] == {"labels": LABELS}


def test_certificate_needs_an_issuer(owner: meta.Owner) -> None:
    with pytest.raises(ValueError, match="issuerRef"):
        tls.certificate(owner, "main", LABELS, "main-tls", ["main"], models.Tls(mode="selfSigned"))
