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
    ca = pki.issue_ca("ca", NOW, datetime.timedelta(days=10), ["main"])
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


def test_the_ca_key_has_a_secret_of_its_own(owner: meta.Owner) -> None:
    """Only the operator reads it: nothing mounts it, and clients read the bundle elsewhere."""
    ca = pki.issue_ca("ca", NOW, datetime.timedelta(days=10), ["main"])
    secret = tls.ca_key_secret(owner, "main-ca-key", LABELS, ca)
    assert secret["metadata"]["name"] == "main-ca-key"
    assert secret["metadata"]["ownerReferences"][0]["uid"] == owner.uid
    assert secret["type"] == "kubernetes.io/tls"
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == {"tls.crt": ca.cert_pem, "tls.key": ca.key_pem}


def test_the_bundle_is_published_without_any_key(owner: meta.Owner) -> None:
    old = pki.issue_ca("old", NOW, datetime.timedelta(days=10), ["main"])
    new = pki.issue_ca("new", NOW, datetime.timedelta(days=10), ["main"])
    bundle = pki.Authority(new, (old.cert_pem,)).bundle
    secret = tls.ca_bundle_secret(owner, "main-ca", LABELS, bundle)
    assert secret["metadata"]["name"] == "main-ca"
    assert secret["type"] == "Opaque"
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {
        "ca.crt": new.cert_pem + old.cert_pem
    }
    assert "PRIVATE KEY" not in str(secret)


def test_retained_secrets_have_no_owner(owner: meta.Owner) -> None:
    """Kept when their owner is deleted, for a re-created owner of the same name to adopt."""
    ca = pki.issue_ca("ca", NOW, datetime.timedelta(days=10), ["main"])
    for secret in (
        tls.ca_key_secret(owner, "main-ca-key", LABELS, ca, owned=False),
        tls.ca_bundle_secret(owner, "main-ca", LABELS, ca.cert_pem, owned=False),
    ):
        assert "ownerReferences" not in secret["metadata"]
        assert secret["metadata"]["labels"] == LABELS


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
