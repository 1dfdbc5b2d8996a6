"""A VectorCluster's Secrets: one per issued API key (plaintext, for whoever distributes it), the
operator's and the sidecar's own keys, Weaviate's key list, and the TLS material.

Weaviate checks API keys itself against `AUTHENTICATION_APIKEY_ALLOWED_KEYS`, a plaintext list;
that list lives only in `<name>-weaviate-auth`, which reaches the members' environment through
secretKeyRefs. The pod template carries a digest of the keys' hashes instead, so adding, removing
or rotating a key rolls the members without any key appearing outside a Secret."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from runestone_operator import keyplan, names, pki, vectornames
from runestone_operator.builders import meta, vector_meta
from runestone_operator.models import gateway

ALLOWED_KEYS = "AUTHENTICATION_APIKEY_ALLOWED_KEYS"
USERS = "AUTHENTICATION_APIKEY_USERS"


@dataclass(frozen=True)
class UserKey:
    """One Weaviate user and the key it authenticates with."""

    user: str
    key: str = field(repr=False)
    admin: bool


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def key_secret(owner: meta.Owner, key: keyplan.StoredKey, role: str) -> meta.Manifest:
    """`<name>-key-<key>`: the plaintext of one key from the spec."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": vector_meta.object_meta(
            owner,
            vectornames.key_secret(owner.name, key.name),
            labels={names.LABEL_API_KEY: key.name},
            annotations={"runestone.dev/weaviate-role": role},
        ),
        "type": "Opaque",
        "data": {names.API_KEY_DATA_KEY: _b64(key.plaintext)},
    }


def internal_key_secret(owner: meta.Owner, secret_name: str, plaintext: str) -> meta.Manifest:
    """The operator's or the sidecar's own key (not one of the spec's)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": vector_meta.object_meta(owner, secret_name),
        "type": "Opaque",
        "data": {names.API_KEY_DATA_KEY: _b64(plaintext)},
    }


def auth_secret(owner: meta.Owner, users: Sequence[UserKey]) -> meta.Manifest:
    """Weaviate's allowed keys and, position by position, the user each key stands for."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": vector_meta.object_meta(owner, vectornames.auth_secret(owner.name)),
        "type": "Opaque",
        "data": {
            ALLOWED_KEYS: _b64(",".join(u.key for u in users)),
            USERS: _b64(",".join(u.user for u in users)),
        },
    }


def keys_digest(users: Sequence[UserKey]) -> str:
    """A digest of who holds which key (from the keys' SHA-256, never the keys)."""
    lines = sorted(
        f"{u.user}:{'admin' if u.admin else 'viewer'}:{hashlib.sha256(u.key.encode()).hexdigest()}"
        for u in users
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def ca_secret(owner: meta.Owner, ca: pki.KeyPair) -> meta.Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": vector_meta.object_meta(owner, vectornames.ca_secret(owner.name)),
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": _b64(ca.cert_pem), "tls.key": _b64(ca.key_pem)},
    }


def tls_secret(owner: meta.Owner, serving: pki.KeyPair, ca_cert_pem: str) -> meta.Manifest:
    """The serving pair plus `ca.crt`, so clients can trust the members from the same Secret."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": vector_meta.object_meta(owner, vectornames.tls_secret(owner.name)),
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": _b64(serving.cert_pem),
            "tls.key": _b64(serving.key_pem),
            "ca.crt": _b64(ca_cert_pem),
        },
    }


def serving_dns_names(owner: meta.Owner) -> list[str]:
    """The client Service's names and, for clients that pick a member, every member's name."""
    members = f"{vectornames.headless_service(owner.name)}.{owner.namespace}.svc"
    return [
        *vectornames.client_dns_names(owner.name, owner.namespace),
        f"*.{members}",
        f"*.{members}.cluster.local",
    ]


def certificate(owner: meta.Owner, tls: gateway.Tls) -> meta.Manifest:
    """A cert-manager Certificate writing the serving pair into `<name>-tls`."""
    if tls.issuer_ref is None:
        raise ValueError("certManager mode needs an issuerRef")
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": vector_meta.object_meta(owner, vectornames.tls_secret(owner.name)),
        "spec": {
            "secretName": vectornames.tls_secret(owner.name),
            "dnsNames": serving_dns_names(owner),
            "duration": tls.duration,
            "renewBefore": tls.renew_before,
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "usages": ["server auth", "digital signature", "key encipherment"],
            "issuerRef": {
                "name": tls.issuer_ref.name,
                "kind": tls.issuer_ref.kind,
                "group": tls.issuer_ref.group,
            },
            "secretTemplate": {"labels": vectornames.labels(owner.name)},
        },
    }
