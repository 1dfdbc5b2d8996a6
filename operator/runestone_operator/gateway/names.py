"""Names, labels, ports and paths of what the operator creates for a Gateway: one place, so the
builders, the reconcile steps and the tests agree on every one of them."""

from __future__ import annotations

from runestone_operator.core import names

APP = "runestone-gateway"
COMPONENT = "gateway"
GATEWAY_READY_GATE = "runestone.dev/gateway-ready"
"""The readiness gate of gateway pods (set only by the sidecar of the pod)."""

# Data keys.
KEY_TABLE_FILE = "keys.yaml"
CONFIG_FILE = "config.yaml"

# Paths inside gateway pods.
CONFIG_DIR = "/etc/runestone/config"
KEYS_DIR = "/etc/runestone/keys"
TLS_DIR = "/etc/runestone/tls"
REDIS_DIR = "/etc/runestone/redis"
VECTOR_KEY_DIR = "/etc/runestone/vector-store/key"
"""The gateway's own key into the VectorCluster `spec.vectorStores` names."""
VECTOR_CA_DIR = "/etc/runestone/vector-store/ca"
"""The CA bundle that VectorCluster's clients trust it with."""

# Ports of the gateway pod.
API_PORT = 8080
HEALTH_PORT = 8081
"""Health and Prometheus metrics: on the metrics Service, never on the client Service."""

METRICS_LABEL = "runestone.dev/metrics"
"""On the metrics Service (value "true"): what a ServiceMonitor selects it by."""


def gateway_labels(gateway: str) -> dict[str, str]:
    return names.labels(APP, gateway, COMPONENT)


def gateway_selector(gateway: str) -> dict[str, str]:
    """The labels that select a gateway's pods (stable for the Deployment's lifetime)."""
    return names.selector(APP, gateway, COMPONENT)


def config_map(gateway: str) -> str:
    return f"{gateway}-config"


def key_table_secret(gateway: str) -> str:
    return f"{gateway}-keytable"


def key_secret(gateway: str, key: str) -> str:
    return names.key_secret(gateway, key)


def tls_secret(gateway: str) -> str:
    return names.tls_secret(gateway)


def ca_secret(gateway: str) -> str:
    return names.ca_secret(gateway)


def ca_key_secret(gateway: str) -> str:
    return names.ca_key_secret(gateway)


def metrics_service(gateway: str) -> str:
    """Also the ServiceMonitor's name."""
    return f"{gateway}-metrics"


def network_policy(gateway: str) -> str:
    return gateway


def gateway_service_account(gateway: str) -> str:
    """Also the Role and RoleBinding name; the `runestone-` prefix is what the sidecar's
    admission policy recognises."""
    return f"runestone-gateway-{gateway}"


def service_dns_names(gateway: str, namespace: str) -> list[str]:
    """Every name a client in the cluster may use for the gateway's Service."""
    return names.service_dns_names(gateway, namespace)
