"""TLS children: the operator CA's key, its published bundle and the serving-certificate Secrets
(mode selfSigned), and the cert-manager Certificate (mode certManager). The PEM content comes in
ready-made: issuing and renewal decisions live in `runestone_operator.core.pki`; names and labels
come from the kind."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence

from runestone_operator.core import meta, models, pki

CERT_MANAGER_GROUP_VERSION = "cert-manager.io/v1"
BUNDLE_TYPE = "Opaque"
"""The published bundle's Secret type (a CA Secret that held the key was kubernetes.io/tls)."""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def ca_key_secret(
    owner: meta.Owner,
    name: str,
    labels: Mapping[str, str],
    signer: pki.KeyPair,
    *,
    owned: bool = True,
) -> meta.Manifest:
    """The signing CA's certificate and key: read by the operator only, mounted nowhere.
    `owned=False` keeps it when the owner is deleted (see `meta.object_meta`)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta.object_meta(owner, name, labels, owned=owned),
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": _b64(signer.cert_pem), "tls.key": _b64(signer.key_pem)},
    }


def ca_bundle_secret(
    owner: meta.Owner, name: str, labels: Mapping[str, str], bundle: str, *, owned: bool = True
) -> meta.Manifest:
    """What clients trust, on its own: `ca.crt`, every CA that may have signed the certificate
    being served (signing CA first; while a CA rotation overlaps, the new and the old CA)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta.object_meta(owner, name, labels, owned=owned),
        "type": BUNDLE_TYPE,
        "data": {"ca.crt": _b64(bundle)},
    }


def tls_secret(
    owner: meta.Owner,
    name: str,
    labels: Mapping[str, str],
    serving: pki.KeyPair,
    ca_cert_pem: str,
) -> meta.Manifest:
    """The serving pair plus `ca.crt` (the CA bundle), so clients can trust the server from the
    same Secret."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta.object_meta(owner, name, labels),
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": _b64(serving.cert_pem),
            "tls.key": _b64(serving.key_pem),
            "ca.crt": _b64(ca_cert_pem),
        },
    }


def certificate(
    owner: meta.Owner,
    name: str,
    labels: Mapping[str, str],
    secret_name: str,
    dns_names: Sequence[str],
    tls: models.Tls,
) -> meta.Manifest:
    """A cert-manager Certificate writing the serving pair into `secret_name`."""
    if tls.issuer_ref is None:
        raise ValueError("certManager mode needs an issuerRef")
    return {
        "apiVersion": CERT_MANAGER_GROUP_VERSION,
        "kind": "Certificate",
        "metadata": meta.object_meta(owner, name, labels),
        "spec": {
            "secretName": secret_name,
            "dnsNames": list(dns_names),
            "duration": tls.duration,
            "renewBefore": tls.renew_before,
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "usages": ["server auth", "digital signature", "key encipherment"],
            "issuerRef": {
                "name": tls.issuer_ref.name,
                "kind": tls.issuer_ref.kind,
                "group": tls.issuer_ref.group,
            },
            "secretTemplate": {"labels": dict(labels)},
        },
    }
