"""Names, labels, annotations and paths the operator gives to what it creates: one place, so the
builders, the reconcile steps and the tests agree on every one of them."""

from __future__ import annotations

FIELD_MANAGER = "runestone-operator"
DEFAULT_IMAGE = "ghcr.io/runestone-dev/runestone:0.1.0"
IMAGE_ENV = "RUNESTONE_IMAGE"

# Labels on every child of a Gateway.
LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
GATEWAY_APP = "runestone-gateway"
GATEWAY_COMPONENT = "gateway"
MANAGED_BY = "runestone-operator"
LABEL_API_KEY = "runestone.dev/api-key"
"""On a key Secret: the name of the key it holds (used to find revoked keys)."""

# Readiness gates (set only by the sidecar of the pod).
GATEWAY_READY_GATE = "runestone.dev/gateway-ready"
MEMBER_READY_GATE = "runestone.dev/member-ready"

# Annotations.
ROTATE_KEY_PREFIX = "rotate-key.runestone.dev/"
"""On a Gateway: `rotate-key.runestone.dev/<key name>: <token>`; a new token rotates that key."""
ROTATION_TOKEN = "runestone.dev/rotation-token"  # noqa: S105 - an annotation name
ROTATED_AT = "runestone.dev/rotated-at"
PREVIOUS_KEYS = "runestone.dev/previous-keys"
"""On a key Secret: the replaced keys still in their grace period, as JSON
`[{"sha256": ..., "expiresAt": ...}]` (hashes only, never a key)."""

# Data keys.
API_KEY_DATA_KEY = "api-key"
KEY_TABLE_FILE = "keys.yaml"
CONFIG_FILE = "config.yaml"

# Paths inside gateway pods.
CONFIG_DIR = "/etc/runestone/config"
KEYS_DIR = "/etc/runestone/keys"
TLS_DIR = "/etc/runestone/tls"
PROVIDERS_DIR = "/etc/runestone/providers"
REDIS_DIR = "/etc/runestone/redis"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

# Ports of the gateway pod.
API_PORT = 8080
HEALTH_PORT = 8081
SIDECAR_PORT = 8082
SIDECAR_GRPC_PORT = 8083


def gateway_labels(gateway: str) -> dict[str, str]:
    return {
        LABEL_NAME: GATEWAY_APP,
        LABEL_INSTANCE: gateway,
        LABEL_COMPONENT: GATEWAY_COMPONENT,
        LABEL_MANAGED_BY: MANAGED_BY,
    }


def gateway_selector(gateway: str) -> dict[str, str]:
    """The labels that select a gateway's pods (stable for the Deployment's lifetime)."""
    return {LABEL_NAME: GATEWAY_APP, LABEL_INSTANCE: gateway, LABEL_COMPONENT: GATEWAY_COMPONENT}


def config_map(gateway: str) -> str:
    return f"{gateway}-config"


def key_table_secret(gateway: str) -> str:
    return f"{gateway}-keytable"


def key_secret(gateway: str, key: str) -> str:
    return f"{gateway}-key-{key}"


def tls_secret(gateway: str) -> str:
    return f"{gateway}-tls"


def ca_secret(gateway: str) -> str:
    return f"{gateway}-ca"


def gateway_service_account(gateway: str) -> str:
    """Also the Role and RoleBinding name; the `runestone-` prefix is what the sidecar's
    admission policy recognises."""
    return f"runestone-gateway-{gateway}"


def vector_service_account(cluster: str) -> str:
    return f"runestone-vector-{cluster}"


def service_dns_names(gateway: str, namespace: str) -> list[str]:
    """Every name a client in the cluster may use for the gateway's Service."""
    return [
        gateway,
        f"{gateway}.{namespace}",
        f"{gateway}.{namespace}.svc",
        f"{gateway}.{namespace}.svc.cluster.local",
    ]


def provider_key_dir(pool: str, provider: str) -> str:
    return f"{PROVIDERS_DIR}/{pool}/{provider}"
