"""A ProviderPool change re-renders the ConfigMap of every Gateway using it, and running pods are
left alone: the gateway hot-reloads its mounted config, so there is no restart."""

from __future__ import annotations

import yaml
from kubernetes import client

from devcluster.kube import eventually
from integration.operator import objects
from runestone_gateway import config


def _models(core: client.CoreV1Api, namespace: str, gateway: str) -> set[str]:
    data = core.read_namespaced_config_map(f"{gateway}-config", namespace).data["config.yaml"]
    rendered = config.GatewayConfig.model_validate(yaml.safe_load(data))
    return {name for pool in rendered.provider_pools for name in pool.model_names()}


def _pods(api: client.ApiClient, namespace: str, gateway: str) -> dict[str, str]:
    """Pod uid -> pod-template-hash of the gateway's live pods."""
    return {
        pod.metadata.uid: pod.metadata.labels["pod-template-hash"]
        for pod in objects.gateway_pods(api, namespace, gateway)
        if pod.metadata.deletion_timestamp is None
    }


def test_pool_change_updates_every_using_gateway_without_restarts(
    kube_api: client.ApiClient, namespace: str
) -> None:
    core, apps = client.CoreV1Api(kube_api), client.AppsV1Api(kube_api)
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    users = ("alpha", "beta")
    for name in users:
        objects.create(kube_api, namespace, objects.gateway(name))
    objects.create(
        kube_api, namespace, objects.gateway("bystander", providerPools=[{"name": "other"}])
    )
    objects.create(kube_api, namespace, objects.mock_pool("other", [{"name": "other-chat"}]))
    for name in users:
        objects.wait_ready(kube_api, namespace, name)
    before = {name: _pods(kube_api, namespace, name) for name in users}
    generations = {
        name: apps.read_namespaced_deployment(name, namespace).metadata.generation for name in users
    }
    bystander = core.read_namespaced_config_map(
        "bystander-config", namespace
    ).metadata.resource_version

    objects.patch(
        kube_api,
        namespace,
        "providerpools",
        "mock",
        {
            "spec": {
                "providers": [
                    {
                        "name": "mock",
                        "type": "mock",
                        "models": [*objects.MOCK_MODELS, {"name": "mock-new"}],
                    }
                ]
            }
        },
    )
    for name in users:
        eventually(
            lambda name=name: "mock-new" in _models(core, namespace, name),  # type: ignore[misc]
            timeout=60,
            what=f"{name}'s ConfigMap to list the new model",
        )
    eventually(
        lambda: (
            "mock-new"
            in objects.read(kube_api, namespace, "providerpools", "mock")["status"]["models"]
        ),
        what="the pool's status to list the new model",
    )
    for name in users:
        deployment = apps.read_namespaced_deployment(name, namespace)
        assert deployment.metadata.generation == generations[name]  # the pod template is unchanged
        assert _pods(kube_api, namespace, name) == before[name]  # same pods, same template hash
    assert (
        core.read_namespaced_config_map("bystander-config", namespace).metadata.resource_version
        == bystander
    )
