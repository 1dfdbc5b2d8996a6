"""A failed API call becomes a Degraded reason and a message that says what was refused (verb,
resource, namespace, name) and never carries what the server said or a request body."""

from __future__ import annotations

import pytest

from runestone_operator.core import conditions, context, kube


def test_requests_are_named_as_rbac_names_them() -> None:
    hpa = kube.resource("autoscaling/v2", "HorizontalPodAutoscaler")
    assert str(hpa.request("patch", "team", "main")) == (
        "patch horizontalpodautoscalers.autoscaling 'main' in namespace 'team'"
    )
    secrets = kube.resource("v1", "Secret")
    assert str(secrets.request("list", "team")) == "list secrets in namespace 'team'"
    gateways = kube.resource("runestone.dev/v1alpha1", "Gateway")
    assert str(gateways.request("patch", "team", "main", "status")) == (
        "patch gateways.runestone.dev/status 'main' in namespace 'team'"
    )
    assert str(gateways.request("list", None)) == "list gateways.runestone.dev cluster-wide"


def test_forbidden_names_the_missing_permission() -> None:
    request = kube.resource("policy/v1", "PodDisruptionBudget").request("patch", "team", "main")
    error = kube.ApiError(
        403, "PATCH PodDisruptionBudget main: HTTP 403 Forbidden", request, "Forbidden"
    )
    blocked = context.api_failure(error)
    assert blocked.reason == conditions.Reason.API_FORBIDDEN
    assert not blocked.waiting
    assert blocked.message.startswith(
        "the API server refused to let the operator patch poddisruptionbudgets.policy 'main' "
        "in namespace 'team' (HTTP 403 Forbidden)"
    )
    assert "--print-rbac" in blocked.message


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (
            503,
            "Service Unavailable",
            "the API server failed to get secrets 'main-ca' in "
            "namespace 'team' (HTTP 503 Service Unavailable); retrying",
        ),
        (
            500,
            "",
            "the API server failed to get secrets 'main-ca' in namespace 'team' (HTTP 500)"
            "; retrying",
        ),
        (
            0,
            "TimeoutError",
            "could not reach the API server to get secrets 'main-ca' in "
            "namespace 'team' (TimeoutError); retrying",
        ),
    ],
)
def test_other_failures_are_api_errors(status: int, reason: str, expected: str) -> None:
    request = kube.resource("v1", "Secret").request("get", "team", "main-ca")
    blocked = context.api_failure(kube.ApiError(status, "text", request, reason))
    assert blocked.reason == conditions.Reason.API_ERROR
    assert blocked.message == expected


def test_the_servers_words_never_reach_the_message() -> None:
    # The server's message can quote what it was sent; only our own description is shown.
    leaked = "rsk_" + "x" * 43
    error = kube.ApiError(422, f"PATCH Secret k: HTTP 422 Unprocessable Entity: {leaked}", None)
    blocked = context.api_failure(error)
    assert leaked not in blocked.message
    assert blocked.message == "the API server failed to make an API call (HTTP 422); retrying"
