"""A pod whose node cannot pull its image is told apart from one still starting."""

from __future__ import annotations

from kubernetes import client

from devcluster import kube


def _pod(waiting: str | None) -> client.V1Pod:
    state = (
        client.V1ContainerState(waiting=client.V1ContainerStateWaiting(reason=waiting))
        if waiting
        else client.V1ContainerState(running=client.V1ContainerStateRunning())
    )
    status = client.V1ContainerStatus(
        name="gateway",
        image="registry.example/runestone:integration",
        image_id="",
        ready=False,
        restart_count=0,
        state=state,
    )
    return client.V1Pod(status=client.V1PodStatus(container_statuses=[status]))


def test_an_image_the_node_cannot_pull_is_named() -> None:
    for reason in ("ErrImagePull", "ImagePullBackOff"):
        assert kube.image_pull_failure(_pod(reason)) == (
            "registry.example/runestone:integration",
            reason,
        )


def test_a_starting_or_running_pod_is_no_failure() -> None:
    assert kube.image_pull_failure(_pod("ContainerCreating")) is None
    assert kube.image_pull_failure(_pod(None)) is None
    assert kube.image_pull_failure(client.V1Pod(status=client.V1PodStatus())) is None
