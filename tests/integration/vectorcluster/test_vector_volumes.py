"""A VectorCluster's member volumes grow in place when `spec.storage.size` is raised (the
StatefulSet keeps the claim templates it was made with, so the operator asks each member's bound
claim, leaving alone a claim a scale-down left behind); a StorageClass that does not allow volume
expansion, or a size below what the volumes hold, is reported as Degraded and the volumes keep
their size; a change of StorageClass is refused by the API server. The local provisioner plays
the volume driver, growing a claim's volume as a CSI resizer would. Only claims and conditions
are read: the members need not run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devcluster import operator_process, storage
from devcluster.kube import eventually
from integration.vectorcluster import vectorclusters

NAME = "grown"
MEMBERS = 3


def _create(api: client.ApiClient, namespace: str, storage_class: str) -> None:
    body = vectorclusters.spec(
        replicas=MEMBERS, storage={"size": "1Gi", "storageClassName": storage_class}
    )
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        vectorclusters.GROUP,
        vectorclusters.VERSION,
        namespace,
        vectorclusters.PLURAL,
        vectorclusters.manifest(NAME, body),
    )


def _patch(api: client.ApiClient, namespace: str, spec: dict[str, Any]) -> None:
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        vectorclusters.GROUP,
        vectorclusters.VERSION,
        namespace,
        vectorclusters.PLURAL,
        NAME,
        {"spec": spec},
    )


def _sizes(api: client.ApiClient, namespace: str) -> dict[str, tuple[str, str | None]]:
    """Each member claim's requested size and capacity, once all are bound."""
    core = client.CoreV1Api(api)
    found = {}
    for ordinal in range(MEMBERS):
        name = f"data-{NAME}-{ordinal}"
        try:
            claim = core.read_namespaced_persistent_volume_claim(name, namespace)
        except ApiException as error:
            if error.status == 404:
                return {}
            raise
        if claim.status.phase != "Bound":
            return {}
        found[name] = (
            claim.spec.resources.requests["storage"],
            (claim.status.capacity or {}).get("storage"),
        )
    return found


def _wait_sizes(
    api: client.ApiClient, namespace: str, asked: str, held: str
) -> dict[str, tuple[str, str | None]]:
    def settled() -> dict[str, tuple[str, str | None]]:
        sizes = _sizes(api, namespace)
        return sizes if sizes and set(sizes.values()) == {(asked, held)} else {}

    return eventually(settled, timeout=120, interval=1, what=f"claims at {asked} holding {held}")


def _conditions(api: client.ApiClient, namespace: str) -> list[dict[str, Any]]:
    cluster = client.CustomObjectsApi(api).get_namespaced_custom_object(
        vectorclusters.GROUP, vectorclusters.VERSION, namespace, vectorclusters.PLURAL, NAME
    )
    return list(cluster.get("status", {}).get("conditions") or [])


def _degraded(api: client.ApiClient, namespace: str, reason: str) -> dict[str, Any]:
    def found() -> dict[str, Any]:
        for condition in _conditions(api, namespace):
            if condition["type"] == "Degraded" and condition["reason"] == reason:
                return dict(condition)
        return {}

    return eventually(found, timeout=90, interval=1, what=f"Degraded ({reason})")


def _left_by_a_scale_down(api: client.ApiClient, namespace: str) -> str:
    """A bound claim of a member beyond the cluster's count, labelled as the StatefulSet
    controller labels its claims, as one a scale-down retained would be."""
    core = client.CoreV1Api(api)
    members = core.read_namespaced_persistent_volume_claim(f"data-{NAME}-0", namespace)
    name = f"data-{NAME}-{MEMBERS + 2}"
    body = client.V1PersistentVolumeClaim(
        metadata=client.V1ObjectMeta(name=name, labels=members.metadata.labels),
        spec=client.V1PersistentVolumeClaimSpec(
            access_modes=["ReadWriteOnce"],
            storage_class_name=storage.STORAGE_CLASS,
            resources=client.V1VolumeResourceRequirements(requests={"storage": "1Gi"}),
        ),
    )
    core.create_namespaced_persistent_volume_claim(namespace, body)
    eventually(
        lambda: (
            core.read_namespaced_persistent_volume_claim(name, namespace).status.phase == "Bound"
        ),
        timeout=60,
        what=f"{name} bound",
    )
    return name


def test_raising_the_size_grows_every_members_volume_and_a_smaller_one_is_refused(
    kube_api: client.ApiClient,
    namespace: str,
    local_storage: object,
    operator: operator_process.OperatorProcess,
) -> None:
    _create(kube_api, namespace, storage.STORAGE_CLASS)
    _wait_sizes(kube_api, namespace, "1Gi", "1Gi")
    left = _left_by_a_scale_down(kube_api, namespace)
    _patch(kube_api, namespace, {"storage": {"size": "2Gi"}})
    _wait_sizes(kube_api, namespace, "2Gi", "2Gi")
    core = client.CoreV1Api(kube_api)
    kept = core.read_namespaced_persistent_volume_claim(left, namespace)
    assert kept.spec.resources.requests["storage"] == "1Gi"  # no member uses it: left as it is

    _patch(kube_api, namespace, {"storage": {"size": "1536Mi"}})
    condition = _degraded(kube_api, namespace, "VolumeCannotShrink")
    assert f"data-{NAME}-0" in condition["message"], condition
    assert "cannot shrink" in condition["message"], condition
    assert set(_sizes(kube_api, namespace).values()) == {("2Gi", "2Gi")}, operator.log_tail(30)


def test_a_class_without_volume_expansion_is_reported_and_the_volumes_keep_their_size(
    kube_api: client.ApiClient,
    namespace: str,
    local_storage: object,
    operator: operator_process.OperatorProcess,
) -> None:
    _create(kube_api, namespace, storage.FIXED_STORAGE_CLASS)
    _wait_sizes(kube_api, namespace, "1Gi", "1Gi")
    _patch(kube_api, namespace, {"storage": {"size": "2Gi"}})
    condition = _degraded(kube_api, namespace, "VolumeExpansionRefused")
    assert all(f"data-{NAME}-{i}" in condition["message"] for i in range(MEMBERS)), condition
    assert "allowVolumeExpansion" in condition["message"], condition
    assert set(_sizes(kube_api, namespace).values()) == {("1Gi", "1Gi")}

    # Going back to the size the volumes hold clears it: nothing was left half-asked.
    _patch(kube_api, namespace, {"storage": {"size": "1Gi"}})

    def cleared() -> bool:
        conditions = _conditions(kube_api, namespace)
        return not any(c["reason"] == "VolumeExpansionRefused" for c in conditions)

    eventually(cleared, timeout=90, interval=1, what="the refusal cleared")


@pytest.mark.parametrize(
    ("storage_spec", "message"),
    [
        ({"storageClassName": storage.FIXED_STORAGE_CLASS}, "storageClassName cannot change"),
        ({"size": "0"}, "storage.size must be more than 0"),
    ],
)
def test_the_api_server_refuses_a_new_storage_class_or_no_size(
    kube_api: client.ApiClient,
    namespace: str,
    local_storage: object,
    storage_spec: dict[str, Any],
    message: str,
) -> None:
    _create(kube_api, namespace, storage.STORAGE_CLASS)
    with pytest.raises(ApiException) as refused:
        _patch(kube_api, namespace, {"storage": storage_spec})
    assert refused.value.status == 422
    assert message in json.loads(refused.value.body)["message"]
