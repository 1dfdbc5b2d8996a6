"""Least privilege, checked on the real API server: the sidecar's RBAC is get/patch on
pods/status, and the chart's ValidatingAdmissionPolicies let a pod-bound token change only its
own pod's runestone.dev/* conditions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devcluster.kube import Cluster, eventually
from devcluster.sidecar import podenv, process, recorder, targets

EXTRA_POD_NAME = "authentication.kubernetes.io/pod-name"
EXTRA_POD_UID = "authentication.kubernetes.io/pod-uid"


@contextmanager
def as_token(kube_cluster: Cluster, token: str) -> Iterator[client.CoreV1Api]:
    admin = kube_cluster.api.configuration
    configuration = client.Configuration()
    configuration.host = admin.host
    configuration.ssl_ca_cert = admin.ssl_ca_cert
    configuration.verify_ssl = admin.verify_ssl
    configuration.api_key = {"authorization": f"Bearer {token}"}
    with client.ApiClient(configuration) as api:
        yield client.CoreV1Api(api)


def gate_patch(condition: str, status: str) -> dict[str, Any]:
    return {
        "status": {
            "conditions": [{"type": condition, "status": status, "reason": "Test", "message": ""}]
        }
    }


def refusal(call: Callable[[], object]) -> str:
    """The API server's message when it refuses `call` (403); "" when it accepts it, which
    `eventually` takes as "not yet" (a failed `pytest.raises` is no exception it retries on)."""
    try:
        call()
    except ApiException as error:
        if error.status != 403:
            raise
        return str(error.body)
    return ""


def refused(call: Callable[[], object]) -> str:
    message = refusal(call)
    assert message, "the API server accepted the call"
    return message


def test_bound_tokens_carry_the_pod_name_and_uid(
    kube_cluster: Cluster, gated_pod: podenv.SidecarPod
) -> None:
    """The policy depends on these extra fields; show the API server really sets them."""
    core = client.CoreV1Api(kube_cluster.api)
    pod = core.read_namespaced_pod(gated_pod.name, gated_pod.namespace)
    token = podenv.bound_token(
        kube_cluster.api, gated_pod.namespace, gated_pod.service_account, pod
    )
    with as_token(kube_cluster, token) as as_sidecar:
        review = client.AuthenticationV1Api(as_sidecar.api_client).create_self_subject_review(
            client.V1SelfSubjectReview()
        )
    user = review.status.user_info
    print(f"bound token user: {user.username} extra: {user.extra}")
    assert user.username == (
        f"system:serviceaccount:{gated_pod.namespace}:{gated_pod.service_account}"
    )
    assert user.extra[EXTRA_POD_NAME] == [gated_pod.name]
    assert user.extra[EXTRA_POD_UID] == [gated_pod.uid]


def test_policy_refuses_other_pods_and_other_conditions_and_accepts_its_own(
    kube_cluster: Cluster,
    namespace: str,
    make_pod: Callable[..., podenv.SidecarPod],
    http_target: targets.HttpTarget,
    run_sidecar: Callable[..., process.SidecarProcess],
    watch_pod: Callable[[podenv.SidecarPod], recorder.PodRecorder],
) -> None:
    own, other = make_pod(name="gw-0"), make_pod(name="gw-1")
    core = client.CoreV1Api(kube_cluster.api)
    token = podenv.bound_token(
        kube_cluster.api,
        namespace,
        own.service_account,
        core.read_namespaced_pod(own.name, namespace),
    )
    with as_token(kube_cluster, token) as as_sidecar:
        # RBAC allows the patch (same namespace, pods/status): only the policy can refuse it.
        # Policies take effect shortly after they are created; wait for that.
        message = eventually(
            lambda: refusal(
                lambda: as_sidecar.patch_namespaced_pod_status(
                    other.name, namespace, gate_patch(other.condition, "True")
                )
            ),
            timeout=60,
            what="the policy to refuse a patch of another pod",
        )
        print(f"another pod: {message}")
        # Both policies refuse this; the API server reports whichever it evaluated first.
        assert (
            "the token bound to pod gw-0 may not change the status of pod gw-1" in message
            or "conditions of pod gw-1 may be changed only from that pod; "
            "this token is bound to pod gw-0"
            in message
        )

        # Its own condition: accepted.
        as_sidecar.patch_namespaced_pod_status(
            own.name, namespace, gate_patch(own.condition, "False")
        )

        # Its own pod, but the kubelet's condition: refused, and the message names it.
        live = core.read_namespaced_pod(own.name, namespace)
        flipped = "False" if podenv.status_of(live, "ContainersReady") == "True" else "True"
        message = refused(
            lambda: as_sidecar.patch_namespaced_pod_status(
                own.name, namespace, gate_patch("ContainersReady", flipped)
            )
        )
        print(f"non-runestone condition: {message}")
        assert "may change only runestone.dev/* conditions" in message
        assert "changes ContainersReady on pod gw-0" in message

        # Nor other status fields: an IP change would steer Service traffic.
        message = refused(
            lambda: as_sidecar.patch_namespaced_pod_status(
                own.name, namespace, {"status": {"podIP": "10.99.0.1", "podIPs": None}}
            )
        )
        assert "status.podIP" in message

        # RBAC: pods/status only. The pod itself (labels, spec) and listing are refused.
        rbac = refused(
            lambda: as_sidecar.patch_namespaced_pod(
                own.name, namespace, {"metadata": {"labels": {"x": "y"}}}
            )
        )
        assert "cannot patch resource" in rbac
        assert "cannot list resource" in refused(lambda: as_sidecar.list_namespaced_pod(namespace))
        assert as_sidecar.read_namespaced_pod_status(own.name, namespace).metadata.name == own.name

    # A token of the same ServiceAccount that is not bound to a pod: refused outright.
    unbound = core.create_namespaced_service_account_token(
        own.service_account,
        namespace,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    ).status.token
    with as_token(kube_cluster, unbound) as as_unbound:
        message = refused(
            lambda: as_unbound.patch_namespaced_pod_status(
                own.name, namespace, gate_patch(own.condition, "True")
            )
        )
        assert "not bound to a pod" in message

    # The real sidecar, under the policy, reports into its own pod.
    pod = watch_pod(own)
    run_sidecar(own, "--target", "http", "--url", http_target.url, "--period", "1")
    pod.wait_for(lambda o: o.gate == "True" and o.reason == "TargetReady", 60, "True")


def test_any_pod_bound_token_changes_gate_conditions_only_on_its_own_pod(
    kube_cluster: Cluster,
    namespace: str,
    make_pod: Callable[..., podenv.SidecarPod],
) -> None:
    gateway = make_pod(name="gw-0")
    # Some other workload, not a runestone-* ServiceAccount, that may patch pod status.
    stranger = make_pod(name="other-0", service_account="other-workload")
    core = client.CoreV1Api(kube_cluster.api)
    token = podenv.bound_token(
        kube_cluster.api,
        namespace,
        stranger.service_account,
        core.read_namespaced_pod(stranger.name, namespace),
    )
    with as_token(kube_cluster, token) as as_stranger:
        message = eventually(
            lambda: refusal(
                lambda: as_stranger.patch_namespaced_pod_status(
                    gateway.name, namespace, gate_patch(gateway.condition, "True")
                )
            ),
            timeout=60,
            what="the policy to refuse a foreign pod's gate change",
        )
        print(f"foreign token: {message}")
        assert "runestone-gate-conditions-own-pod" in message
        assert "may be changed only from that pod; this token is bound to pod other-0" in message
        # Its own pod's gate: allowed (this policy only pins gate conditions to their pod).
        as_stranger.patch_namespaced_pod_status(
            stranger.name, namespace, gate_patch(stranger.condition, "True")
        )


def test_a_stale_resource_version_is_a_real_conflict(
    kube_cluster: Cluster, gated_pod: podenv.SidecarPod
) -> None:
    """The sidecar's patches carry the resourceVersion they were planned on; the API server
    refuses them with 409 when the pod moved on, which is what its retry loop relies on."""
    core = client.CoreV1Api(kube_cluster.api)
    pod = core.read_namespaced_pod_status(gated_pod.name, gated_pod.namespace)
    stale = pod.metadata.resource_version
    core.patch_namespaced_pod_status(
        gated_pod.name, gated_pod.namespace, gate_patch(gated_pod.condition, "False")
    )
    body = gate_patch(gated_pod.condition, "True")
    body["metadata"] = {"resourceVersion": stale}
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod_status(gated_pod.name, gated_pod.namespace, body)
    assert caught.value.status == 409
    current = podenv.read_condition(kube_cluster.api, gated_pod)
    assert current is not None
    assert current.status == "False"


MEMBER_SELECTOR_LABELS = {
    "app.kubernetes.io/name": "runestone-vectorcluster",
    "app.kubernetes.io/instance": "docs",
    "app.kubernetes.io/component": "weaviate",
}
"""What a Weaviate member's pod carries: the NetworkPolicy admits the gossip, data and Raft ports
from pods with these labels (and nothing else)."""


def test_a_pods_status_write_can_change_a_pods_labels(
    kube_cluster: Cluster, gated_pod: podenv.SidecarPod
) -> None:
    """Why the policy must pin metadata: the API server takes label and annotation changes
    through pods/status (its status strategy resets only the spec and owner references), so a
    token that may write pods/status may relabel the pod, into a Service's or a NetworkPolicy's
    selector for instance. Shown with an identity the policies do not cover."""
    core = client.CoreV1Api(kube_cluster.api)
    core.patch_namespaced_pod_status(
        gated_pod.name,
        gated_pod.namespace,
        {"metadata": {"labels": MEMBER_SELECTOR_LABELS, "annotations": {"a": "b"}}},
    )
    pod = core.read_namespaced_pod(gated_pod.name, gated_pod.namespace)
    assert MEMBER_SELECTOR_LABELS.items() <= pod.metadata.labels.items()
    assert pod.metadata.annotations["a"] == "b"


METADATA_CHANGES: dict[str, dict[str, Any]] = {
    "labels": {"labels": MEMBER_SELECTOR_LABELS},
    "annotations": {"annotations": {"runestone.dev/anything": "x"}},
    "finalizers": {"finalizers": ["example.com/keep"]},
}


@pytest.mark.parametrize("field", METADATA_CHANGES, ids=METADATA_CHANGES.keys())
def test_policy_refuses_metadata_changes_through_pods_status(
    kube_cluster: Cluster, gated_pod: podenv.SidecarPod, field: str
) -> None:
    """A sidecar's token may not change its pod's metadata through pods/status: it could
    otherwise move its own pod into the Weaviate members' selector, the only fence on their
    unauthenticated gossip, Raft and data ports. (Owner references the API server's pods/status
    strategy resets by itself, before admission sees them.)"""
    core = client.CoreV1Api(kube_cluster.api)
    pod = core.read_namespaced_pod(gated_pod.name, gated_pod.namespace)
    token = podenv.bound_token(
        kube_cluster.api, gated_pod.namespace, gated_pod.service_account, pod
    )
    with as_token(kube_cluster, token) as as_sidecar:
        body = {"metadata": METADATA_CHANGES[field]}
        message = eventually(
            lambda: refusal(
                lambda: as_sidecar.patch_namespaced_pod_status(
                    gated_pod.name, gated_pod.namespace, body
                )
            ),
            timeout=60,
            what=f"the policy to refuse a change of metadata.{field}",
        )
        print(f"metadata.{field}: {message}")
        assert f"metadata.{field}" in message
        assert "may not change the metadata of its pod through pods/status" in message
        # Its gate condition alone is still accepted.
        as_sidecar.patch_namespaced_pod_status(
            gated_pod.name, gated_pod.namespace, gate_patch(gated_pod.condition, "True")
        )
    after = core.read_namespaced_pod(gated_pod.name, gated_pod.namespace)
    assert after.metadata.labels == pod.metadata.labels
    assert after.metadata.annotations == pod.metadata.annotations
    assert after.metadata.finalizers == pod.metadata.finalizers
