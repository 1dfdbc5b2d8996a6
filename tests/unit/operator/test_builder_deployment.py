"""The gateway Deployment: containers, sidecar, readiness gate, hardening and mounts."""

from __future__ import annotations

from typing import Any

import pytest

from runestone_operator.core import meta, names
from runestone_operator.gateway import model as gateway
from runestone_operator.gateway.builders import config as config_builder
from runestone_operator.gateway.builders import deployment
from unit.operator import qos

PROVIDER = config_builder.SecretMount(
    "provider-default-openai", "openai-creds", "api-key", "/etc/runestone/providers/default/openai"
)


def _build(spec: gateway.GatewaySpec, owner: meta.Owner, tls: str | None = "main-tls") -> Any:
    return deployment.deployment(
        deployment.Inputs(
            owner=owner,
            spec=spec,
            image="registry.example/runestone:1",
            tls_secret=tls,
            secret_mounts=(PROVIDER,),
        )
    )


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in pod["containers"] if c["name"] == name)


def _mounts(container: dict[str, Any]) -> dict[str, str]:
    return {m["mountPath"]: m["name"] for m in container["volumeMounts"]}


def test_metadata_selector_and_replicas(
    owner: meta.Owner, gateway_spec: gateway.GatewaySpec
) -> None:
    manifest = _build(gateway_spec, owner)
    assert manifest["metadata"]["name"] == "main"
    assert manifest["metadata"]["labels"] == {
        "app.kubernetes.io/name": "runestone-gateway",
        "app.kubernetes.io/instance": "main",
        "app.kubernetes.io/component": "gateway",
        "app.kubernetes.io/managed-by": "runestone-operator",
    }
    assert manifest["spec"]["replicas"] == 2
    selector = manifest["spec"]["selector"]["matchLabels"]
    assert selector.items() <= manifest["spec"]["template"]["metadata"]["labels"].items()


def test_autoscaled_deployment_leaves_replicas_to_the_hpa(owner: meta.Owner) -> None:
    spec = gateway.GatewaySpec.model_validate(
        {"providerPools": [{"name": "p"}], "autoscaling": {"maxReplicas": 5}}
    )
    assert "replicas" not in _build(spec, owner)["spec"]


def test_gateway_container(owner: meta.Owner, gateway_spec: gateway.GatewaySpec) -> None:
    pod = _build(gateway_spec, owner)["spec"]["template"]["spec"]
    container = _container(pod, "gateway")
    assert container["image"] == "registry.example/runestone:1"
    assert [*container["command"], *container["args"]] == [
        "runestone",
        "gateway",
        "--config",
        "/etc/runestone/config/config.yaml",
        "--port",
        "8080",
        "--health-port",
        "8081",
    ]
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "health"}
    assert {"name": "health", "containerPort": 8081, "protocol": "TCP"} in container["ports"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert "env" not in container  # nothing secret travels through the environment
    assert _mounts(container) == {
        "/etc/runestone/config": "config",
        "/etc/runestone/keys": "keys",
        "/etc/runestone/tls": "tls",
        "/etc/runestone/providers/default/openai": "provider-default-openai",
        "/tmp": "tmp",
    }
    assert all(m.get("readOnly") for m in container["volumeMounts"] if m["name"] != "tmp")
    assert names.SERVICE_ACCOUNT_DIR not in _mounts(container)


def test_sidecar_container(owner: meta.Owner, gateway_spec: gateway.GatewaySpec) -> None:
    pod = _build(gateway_spec, owner)["spec"]["template"]["spec"]
    sidecar = _container(pod, "sidecar")
    assert [*sidecar["command"], *sidecar["args"]] == [
        "runestone",
        "sidecar",
        "--target",
        "gateway",
        "--url",
        "http://127.0.0.1:8081/readyz",
        "--condition",
        "runestone.dev/gateway-ready",
        "--port",
        "8082",
        "--grpc-port",
        "8083",
    ]
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in sidecar["env"]}
    assert env == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}
    assert _mounts(sidecar)[names.SERVICE_ACCOUNT_DIR] == "kube-api-access"
    assert sidecar["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_the_sidecar_is_restarted_when_its_probe_loop_stalls(
    owner: meta.Owner, gateway_spec: gateway.GatewaySpec
) -> None:
    """A hung sidecar would leave the readiness gate as it last wrote it (True, perhaps):
    the kubelet restarts it when its /healthz fails (a stalled probe loop) or stops answering."""
    sidecar = _container(_build(gateway_spec, owner)["spec"]["template"]["spec"], "sidecar")
    probe = sidecar["livenessProbe"]
    assert probe["httpGet"] == {"path": "/healthz", "port": "sidecar"}
    port = next(p for p in sidecar["ports"] if p["name"] == "sidecar")["containerPort"]
    assert sidecar["args"][sidecar["args"].index("--port") + 1] == str(port)
    assert probe["timeoutSeconds"] < probe["periodSeconds"]
    assert probe["failureThreshold"] >= 3


def test_pod_identity_gate_and_hardening(
    owner: meta.Owner, gateway_spec: gateway.GatewaySpec
) -> None:
    pod = _build(gateway_spec, owner)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "runestone-gateway-main"
    assert pod["automountServiceAccountToken"] is False
    assert pod["readinessGates"] == [{"conditionType": "runestone.dev/gateway-ready"}]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_volumes(owner: meta.Owner, gateway_spec: gateway.GatewaySpec) -> None:
    volumes = {
        v["name"]: v for v in _build(gateway_spec, owner)["spec"]["template"]["spec"]["volumes"]
    }
    assert volumes["config"] == {"name": "config", "configMap": {"name": "main-config"}}
    assert volumes["keys"]["secret"] == {"secretName": "main-keytable"}
    assert volumes["tls"]["secret"] == {"secretName": "main-tls"}
    assert volumes["provider-default-openai"]["secret"] == {
        "secretName": "openai-creds",
        "items": [{"key": "api-key", "path": "api-key"}],
    }
    assert "emptyDir" in volumes["tmp"]
    sources = volumes["kube-api-access"]["projected"]["sources"]
    assert sources[0]["serviceAccountToken"]["path"] == "token"
    assert sources[1]["configMap"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    assert sources[2]["downwardAPI"]["items"][0]["path"] == "namespace"


def test_no_tls_volume_for_plain_http(owner: meta.Owner, gateway_spec: gateway.GatewaySpec) -> None:
    pod = _build(gateway_spec, owner, tls=None)["spec"]["template"]["spec"]
    assert "tls" not in {v["name"] for v in pod["volumes"]}
    assert "/etc/runestone/tls" not in _mounts(_container(pod, "gateway"))


@pytest.mark.parametrize("field", ["annotations"])
def test_template_does_not_depend_on_config_content(
    owner: meta.Owner, gateway_spec: gateway.GatewaySpec, field: str
) -> None:
    # Config and keys reach pods through hot-reloaded files: no checksum annotation that would
    # restart pods on every change.
    template = _build(gateway_spec, owner)["spec"]["template"]
    assert field not in template["metadata"]
    with_keys = gateway_spec.model_copy(update={"api_keys": []})
    assert _build(with_keys, owner)["spec"]["template"] == template


def test_custom_resources_replace_the_defaults(owner: meta.Owner) -> None:
    spec = gateway.GatewaySpec.model_validate(
        {"providerPools": [{"name": "p"}], "resources": {"limits": {"cpu": 2, "memory": "1Gi"}}}
    )
    container = _container(_build(spec, owner)["spec"]["template"]["spec"], "gateway")
    assert container["resources"] == {"limits": {"cpu": 2, "memory": "1Gi"}}


@pytest.mark.parametrize(
    "resources",
    [
        {"limits": {"cpu": 2, "memory": "1Gi"}},
        {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": 2, "memory": "1Gi"}},
        {"requests": {"cpu": "2000m", "memory": "1024Mi"}, "limits": {"cpu": 2, "memory": "1Gi"}},
    ],
)
def test_a_gateway_asking_for_guaranteed_resources_gets_a_guaranteed_pod(
    owner: meta.Owner, resources: dict[str, Any]
) -> None:
    spec = gateway.GatewaySpec.model_validate(
        {"providerPools": [{"name": "p"}], "resources": resources}
    )
    pod = _build(spec, owner)["spec"]["template"]["spec"]
    sidecar = _container(pod, "sidecar")
    assert sidecar["resources"]["requests"] == sidecar["resources"]["limits"]
    assert set(sidecar["resources"]["limits"]) == {"cpu", "memory"}
    assert qos.pod_class(pod) == "Guaranteed"


@pytest.mark.parametrize(
    "resources",
    [
        None,  # the defaults: a CPU request and a memory limit
        {"limits": {"memory": "1Gi"}},
        {"limits": {"cpu": 2}},
        {"requests": {"cpu": 1, "memory": "1Gi"}, "limits": {"cpu": 2, "memory": "1Gi"}},
        {"requests": {"cpu": 2, "memory": "512Mi"}, "limits": {"cpu": 2, "memory": "1Gi"}},
        {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": 1, "memory": "1Gi"}},
    ],
)
def test_a_gateway_not_asking_for_guaranteed_resources_keeps_the_small_sidecar(
    owner: meta.Owner, resources: dict[str, Any] | None
) -> None:
    body: dict[str, Any] = {"providerPools": [{"name": "p"}]}
    if resources is not None:
        body["resources"] = resources
    pod = _build(gateway.GatewaySpec.model_validate(body), owner)["spec"]["template"]["spec"]
    assert _container(pod, "sidecar")["resources"] == {
        "requests": {"cpu": "10m", "memory": "32Mi"},
        "limits": {"memory": "64Mi"},
    }
    assert qos.pod_class(pod) == "Burstable"


@pytest.mark.parametrize("gateway_resources", [None, {"limits": {"cpu": 2, "memory": "1Gi"}}])
def test_the_sidecars_own_resources_are_used_as_given(
    owner: meta.Owner, gateway_resources: dict[str, Any] | None
) -> None:
    sidecar_resources = {"requests": {"cpu": "50m", "memory": "48Mi"}, "limits": {"memory": "96Mi"}}
    body: dict[str, Any] = {
        "providerPools": [{"name": "p"}],
        "sidecar": {"resources": sidecar_resources},
    }
    if gateway_resources is not None:
        body["resources"] = gateway_resources  # Guaranteed: still the sidecar's own, as given
    pod = _build(gateway.GatewaySpec.model_validate(body), owner)["spec"]["template"]["spec"]
    assert _container(pod, "sidecar")["resources"] == sidecar_resources
    assert qos.pod_class(pod) == "Burstable"


def test_a_guaranteed_gateway_with_guaranteed_sidecar_resources_gets_a_guaranteed_pod(
    owner: meta.Owner,
) -> None:
    spec = gateway.GatewaySpec.model_validate(
        {
            "providerPools": [{"name": "p"}],
            "resources": {"limits": {"cpu": 2, "memory": "1Gi"}},
            "sidecar": {"resources": {"limits": {"cpu": "200m", "memory": "128Mi"}}},
        }
    )
    pod = _build(spec, owner)["spec"]["template"]["spec"]
    assert _container(pod, "sidecar")["resources"] == {"limits": {"cpu": "200m", "memory": "128Mi"}}
    assert qos.pod_class(pod) == "Guaranteed"


def test_the_gateway_pods_run_on_the_nodes_the_spec_names(owner: meta.Owner) -> None:
    spec = gateway.GatewaySpec.model_validate(
        {
            "providerPools": [{"name": "p"}],
            "scheduling": {
                "nodeSelector": {"node.example.com/pool": "gateways"},
                "tolerations": [
                    {
                        "key": "dedicated",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 300,
                    }
                ],
            },
        }
    )
    pod = _build(spec, owner)["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"node.example.com/pool": "gateways"}
    assert pod["tolerations"] == [
        {"key": "dedicated", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
    ]


def test_unset_scheduling_leaves_no_empty_fields_in_the_pod(
    owner: meta.Owner, gateway_spec: gateway.GatewaySpec
) -> None:
    pod = _build(gateway_spec, owner)["spec"]["template"]["spec"]
    assert "nodeSelector" not in pod
    assert "tolerations" not in pod
