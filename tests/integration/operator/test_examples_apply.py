"""The example CRs apply cleanly with kubectl; every child exists with the right content; gateway
pods carry the readiness gate; status turns Ready once the pods (gate included) are ready."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from devcluster import gobuild, operator_process, versions
from devcluster.kube import Cluster, eventually
from integration.operator import objects
from runestone_gateway import apikeys, config
from runestone_operator.core import pki
from runestone_operator.gateway import names

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "deploy" / "examples"


def kubectl(cluster: Cluster, *args: str) -> str:
    binary = gobuild.ensure([versions.KUBERNETES.name])["kubectl"]
    env = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig))
    done = subprocess.run(
        [str(binary), *args], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _wait_reconciled(api: client.ApiClient, namespace: str, name: str) -> None:
    """Status is written after every child is applied: once it has caught up with the spec, all
    children exist (or, where none is due, are known to be absent)."""

    def caught_up() -> bool:
        gateway = objects.read(api, namespace, "gateways", name)
        status = gateway.get("status") or {}
        return bool(status.get("observedGeneration") == gateway["metadata"]["generation"])

    eventually(caught_up, timeout=120, what=f"Gateway {name} to be reconciled")


def _owned_by(obj: Any, gateway: dict[str, Any]) -> bool:
    (reference,) = obj.metadata.owner_references
    return bool(
        reference.uid == gateway["metadata"]["uid"]
        and reference.kind == "Gateway"
        and reference.controller
    )


def _managed_by_operator(obj: Any) -> bool:
    return any(
        entry.manager == "runestone-operator" and entry.operation == "Apply"
        for entry in obj.metadata.managed_fields
    )


def test_quickstart_example(kube_cluster: Cluster, namespace: str) -> None:
    api = kube_cluster.api
    out = kubectl(kube_cluster, "apply", "-n", namespace, "-f", str(EXAMPLES / "quickstart.yaml"))
    assert "providerpool.runestone.dev/mock created" in out
    assert "gateway.runestone.dev/quickstart created" in out
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    rbac, policy = client.RbacAuthorizationV1Api(api), client.PolicyV1Api(api)

    _wait_reconciled(api, namespace, "quickstart")
    deployment = apps.read_namespaced_deployment("quickstart", namespace)
    gateway = objects.read(api, namespace, "gateways", "quickstart")
    labels = names.gateway_labels("quickstart")

    # Deployment: the gateway and sidecar containers, the readiness gate, a hardened pod.
    assert deployment.metadata.labels == labels
    assert _owned_by(deployment, gateway)
    assert _managed_by_operator(deployment)
    assert deployment.spec.replicas == 1
    pod_spec = deployment.spec.template.spec
    assert [c.name for c in pod_spec.containers] == ["gateway", "sidecar"]
    assert pod_spec.containers[0].image == operator_process.TEST_IMAGE  # the operator's own image
    assert pod_spec.readiness_gates[0].condition_type == "runestone.dev/gateway-ready"
    assert pod_spec.automount_service_account_token is False
    assert pod_spec.service_account_name == "runestone-gateway-quickstart"

    # Service, ServiceAccount, Role, RoleBinding.
    service = core.read_namespaced_service("quickstart", namespace)
    assert _owned_by(service, gateway)
    assert service.spec.selector == names.gateway_selector("quickstart")
    assert service.spec.ports[0].port == 443
    assert _owned_by(
        core.read_namespaced_service_account("runestone-gateway-quickstart", namespace), gateway
    )
    role = rbac.read_namespaced_role("runestone-gateway-quickstart", namespace)
    assert {(tuple(r.resources), tuple(r.verbs)) for r in role.rules} == {
        (("pods",), ("get",)),
        (("pods/status",), ("get", "patch")),
    }
    binding = rbac.read_namespaced_role_binding("runestone-gateway-quickstart", namespace)
    assert binding.subjects[0].name == "runestone-gateway-quickstart"

    # ConfigMap: the gateway's own schema, with the mock pool and every file path it needs.
    config_map = core.read_namespaced_config_map("quickstart-config", namespace)
    assert _owned_by(config_map, gateway)
    rendered = config.GatewayConfig.model_validate(yaml.safe_load(config_map.data["config.yaml"]))
    assert [pool.name for pool in rendered.provider_pools] == ["mock"]
    assert rendered.provider_pools[0].model_names() == {"mock-chat", "mock-embedding"}
    assert rendered.auth.key_table_file == "/etc/runestone/keys/keys.yaml"
    assert rendered.server.tls is not None

    # The key Secret holds the key; the key table only its hash.
    key = objects.secret_text(api, namespace, "quickstart-key-demo", "api-key")
    assert apikeys.looks_like_key(key)
    table_text = objects.secret_text(api, namespace, "quickstart-keytable", "keys.yaml")
    assert key not in table_text
    table = config.KeyTable.model_validate(yaml.safe_load(table_text))
    assert [(e.id, e.sha256, e.tenant) for e in table.keys] == [
        ("demo", apikeys.digest(key), f"{namespace}/quickstart")
    ]

    # TLS: an operator CA and a serving certificate for the Service's names.
    tls = core.read_namespaced_secret("quickstart-tls", namespace)
    assert tls.type == "kubernetes.io/tls"
    cert = base64.b64decode(tls.data["tls.crt"]).decode()
    info = pki.inspect(cert)
    assert info.dns_names == frozenset(names.service_dns_names("quickstart", namespace))
    published = core.read_namespaced_secret("quickstart-ca", namespace)
    assert set(published.data) == {"ca.crt"}  # the bundle on its own, no key
    ca_cert = base64.b64decode(published.data["ca.crt"]).decode()
    assert base64.b64decode(tls.data["ca.crt"]).decode() == ca_cert
    signer = core.read_namespaced_secret("quickstart-ca-key", namespace)
    assert base64.b64decode(signer.data["tls.crt"]).decode() == ca_cert
    assert pki.constrained_to(ca_cert, names.service_dns_names("quickstart", namespace))

    # A single replica gets no PodDisruptionBudget; no autoscaling, no HPA.
    assert not objects.exists(policy.read_namespaced_pod_disruption_budget, "quickstart", namespace)
    assert not objects.exists(
        client.AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler,
        "quickstart",
        namespace,
    )

    # Pods carry the gate; containers ready is not enough for Ready.
    pods = eventually(
        lambda: [
            p
            for p in objects.gateway_pods(api, namespace, "quickstart")
            if objects.pod_condition(p, "ContainersReady") == "True"
        ],
        timeout=120,
        what="a running gateway pod",
    )
    assert all(p.spec.readiness_gates[0].condition_type == objects.GATE for p in pods)
    not_ready = eventually(
        lambda: objects.condition_is(api, namespace, "gateways", "quickstart", "Ready", "False"),
        what="Ready False while the gate is closed",
    )
    assert not_ready["status"]["readyReplicas"] == 0

    ready = objects.wait_ready(api, namespace, "quickstart", replicas=1)
    status = ready["status"]
    assert status["readyReplicas"] == 1
    assert status["url"] == f"https://quickstart.{namespace}.svc:443"
    assert status["apiKeys"] == [{"name": "demo", "secretName": "quickstart-key-demo"}]
    assert objects.must(objects.condition(ready, "Degraded"))["status"] == "False"
    assert objects.must(objects.condition(ready, "Progressing"))["status"] == "False"

    pool = eventually(
        lambda: objects.condition_is(api, namespace, "providerpools", "mock", "Ready", "True"),
        what="the ProviderPool to be Ready",
    )
    assert pool["status"]["models"] == ["mock-chat", "mock-embedding"]
    columns = kubectl(kube_cluster, "get", "rsgw", "-n", namespace)
    assert "quickstart" in columns
    assert "True" in columns


def test_production_example(kube_cluster: Cluster, namespace: str) -> None:
    api = kube_cluster.api
    kubectl(kube_cluster, "apply", "-n", namespace, "-f", str(EXAMPLES / "production.yaml"))
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)

    _wait_reconciled(api, namespace, "main")
    deployment = apps.read_namespaced_deployment("main", namespace)
    template = deployment.spec.template.spec
    gateway_container = template.containers[0]
    mounts = {m.mount_path: m for m in gateway_container.volume_mounts}
    # Provider credentials: each Secret mounted read-only, only the referenced key.
    openai = mounts["/etc/runestone/providers/chat/openai"]
    assert openai.read_only
    volumes = {v.name: v for v in template.volumes}
    secret_volume = volumes[openai.name].secret
    assert secret_volume.secret_name == "openai-creds"
    assert [(i.key, i.path) for i in secret_volume.items] == [("api-key", "api-key")]
    assert "/etc/runestone/providers/claude/anthropic" in mounts
    # Never copied: no env var and no ConfigMap holds the upstream keys.
    for container in template.containers:
        assert not any(e.value_from and e.value_from.secret_key_ref for e in container.env or [])
    config_text = core.read_namespaced_config_map("main-config", namespace).data["config.yaml"]
    assert "replace-with-your" not in config_text
    rendered = config.GatewayConfig.model_validate(yaml.safe_load(config_text))
    chat = next(p for p in rendered.provider_pools if p.name == "chat")
    assert chat.providers[0].api_key_file == "/etc/runestone/providers/chat/openai/api-key"
    assert chat.providers[1].api_key_file is None
    assert gateway_container.resources.requests == {"cpu": "250m", "memory": "256Mi"}

    # Autoscaling owns the replica count; a PDB protects the minimum of two.
    hpa = client.AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler("main", namespace)
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (2, 10)
    pdb = client.PolicyV1Api(api).read_namespaced_pod_disruption_budget("main", namespace)
    assert pdb.spec.max_unavailable == 1

    table = config.KeyTable.model_validate(
        yaml.safe_load(objects.secret_text(api, namespace, "main-keytable", "keys.yaml"))
    )
    by_id = {entry.id: entry for entry in table.keys}
    assert set(by_id) == {"team-a", "analytics"}
    assert by_id["team-a"].limits.tokens_per_minute == 100000
    assert by_id["team-a"].budget == config.KeyBudget(usd="100", period="monthly")
    assert by_id["team-a"].expires_at is not None
    for key_name in ("team-a", "analytics"):
        key = objects.secret_text(api, namespace, f"main-key-{key_name}", "api-key")
        assert by_id[key_name].sha256 == apikeys.digest(key)
    eventually(
        lambda: objects.condition_is(api, namespace, "gateways", "main", "Degraded", "False"),
        what="the production example to reconcile without problems",
    )
