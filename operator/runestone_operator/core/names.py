"""Names, labels, annotations and paths every kind gives to what it creates: one place, so the
shared steps, the kinds' builders and the tests agree on every one of them. Each kind adds its
own in its `names` module."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

FIELD_MANAGER = "runestone-operator"
DEFAULT_IMAGE = "ghcr.io/runestone-dev/runestone:0.1.0"
IMAGE_ENV = "RUNESTONE_IMAGE"

# Labels on every child.
LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "runestone-operator"
LABEL_API_KEY = "runestone.dev/api-key"
"""On a key Secret: the name of the key it holds (used to find revoked keys)."""
LABEL_PROVIDER_CREDENTIAL = "runestone.dev/provider-credential"
"""On a Secret, set to "true" by its owner: it may be a ProviderPool's apiKeySecretRef (the only
Secrets the operator sends upstream)."""

# Annotations.
ROTATE_KEY_PREFIX = "rotate-key.runestone.dev/"
"""On a Gateway or a VectorCluster: `rotate-key.runestone.dev/<key name>: <token>`; a new token
rotates that key."""
ROTATION_TOKEN = "runestone.dev/rotation-token"  # noqa: S105 - an annotation name
ROTATED_AT = "runestone.dev/rotated-at"
PREVIOUS_KEYS = "runestone.dev/previous-keys"
"""On a key Secret: the replaced keys still in their grace period, as JSON
`[{"sha256": ..., "expiresAt": ...}]` (hashes only, never a key)."""

# Data keys.
API_KEY_DATA_KEY = "api-key"
CA_DATA_KEY = "ca.crt"
"""The CA bundle clients trust, in a published CA Secret and next to a serving pair."""

# Paths inside pods.
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
PROVIDERS_DIR = "/etc/runestone/providers"
"""Where a gateway pod finds its providers' API keys, and where a ProviderPool rendered in the
gateway's config schema says they are (`provider_key_dir`)."""

# Ports of the health sidecar, in every pod that has one.
SIDECAR_PORT = 8082
SIDECAR_GRPC_PORT = 8083


GATEWAY_KEY_PREFIX = "gateway."
"""Of the key a VectorCluster issues a Gateway that references it: the dot keeps it apart from
the DNS-label names a spec's own keys take, so the two never share a key Secret."""


def gateway_key(gateway: str) -> str:
    """The name of the key a VectorCluster issues the Gateway `gateway` (its user in the engine,
    its label value, the tail of its Secret's name): at most 63 characters, shortened with a
    digest when the Gateway's name is long."""
    name = f"{GATEWAY_KEY_PREFIX}{gateway}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(gateway.encode()).hexdigest()[:8]
    return f"{GATEWAY_KEY_PREFIX}{gateway[:46]}-{digest}"


def labels(app: str, instance: str, component: str) -> dict[str, str]:
    """The labels of every child of one object."""
    return {
        LABEL_NAME: app,
        LABEL_INSTANCE: instance,
        LABEL_COMPONENT: component,
        LABEL_MANAGED_BY: MANAGED_BY,
    }


def selector(app: str, instance: str, component: str) -> dict[str, str]:
    """The labels that select one object's pods (stable for the workload's lifetime)."""
    return {LABEL_NAME: app, LABEL_INSTANCE: instance, LABEL_COMPONENT: component}


def label_selector(matching: Mapping[str, str]) -> str:
    """A list call's `labelSelector` for exactly these labels."""
    return ",".join(f"{key}={value}" for key, value in matching.items())


def key_secret(owner: str, key: str) -> str:
    return f"{owner}-key-{key}"


def tls_secret(owner: str) -> str:
    return f"{owner}-tls"


def ca_secret(owner: str) -> str:
    """The CA bundle clients trust (`ca.crt`), without any key."""
    return f"{owner}-ca"


def ca_key_secret(owner: str) -> str:
    """The signing CA's certificate and key, which only the operator reads."""
    return f"{owner}-ca-key"


def service_dns_names(service: str, namespace: str) -> list[str]:
    """Every name a client in the cluster may use for a Service."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]


def provider_key_dir(pool: str, provider: str) -> str:
    return f"{PROVIDERS_DIR}/{pool}/{provider}"
