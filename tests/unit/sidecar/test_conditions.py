"""The one-condition patch: only our condition, lastTransitionTime only on a real change."""

from __future__ import annotations

from typing import Any

from runestone_sidecar import conditions

GATE = "runestone.dev/gateway-ready"
READY = conditions.Desired(True, conditions.TARGET_READY, "GET /readyz answered 200")
DOWN = conditions.Desired(False, conditions.TARGET_NOT_READY, "GET /readyz answered 503")


def pod(*conds: dict[str, Any], rv: str = "41") -> dict[str, Any]:
    return {"metadata": {"name": "p", "resourceVersion": rv}, "status": {"conditions": list(conds)}}


def test_first_report_sets_the_condition_with_a_transition_time_and_precondition() -> None:
    kubelet = {"type": "Ready", "status": "False"}
    patch = conditions.plan_patch(pod(kubelet), GATE, READY, "2026-01-01T00:00:00Z")
    assert patch == {
        "metadata": {"resourceVersion": "41"},
        "status": {
            "conditions": [
                {
                    "type": GATE,
                    "status": "True",
                    "reason": "TargetReady",
                    "message": "GET /readyz answered 200",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ]
        },
    }


def test_nothing_to_send_when_the_pod_already_says_it() -> None:
    current = {"type": GATE, "status": "True", "reason": READY.reason, "message": READY.message}
    assert conditions.plan_patch(pod(current), GATE, READY, "later") is None


def test_a_new_message_with_the_same_status_keeps_the_transition_time() -> None:
    current = {
        "type": GATE,
        "status": "False",
        "reason": conditions.TARGET_UNREACHABLE,
        "message": "refused",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    patch = conditions.plan_patch(pod(current), GATE, DOWN, "2026-02-02T00:00:00Z")
    assert patch is not None
    sent = patch["status"]["conditions"][0]
    assert sent["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert sent["reason"] == conditions.TARGET_NOT_READY


def test_a_status_change_moves_the_transition_time() -> None:
    current = {
        "type": GATE,
        "status": "True",
        "reason": READY.reason,
        "message": READY.message,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    patch = conditions.plan_patch(pod(current), GATE, DOWN, "2026-02-02T00:00:00Z")
    assert patch is not None
    assert patch["status"]["conditions"][0]["lastTransitionTime"] == "2026-02-02T00:00:00Z"


def test_long_messages_are_clipped_and_then_compare_equal() -> None:
    long = conditions.Desired(False, conditions.TARGET_NOT_READY, "x" * 5000)
    patch = conditions.plan_patch(pod(), GATE, long, "t")
    assert patch is not None
    sent = patch["status"]["conditions"][0]
    assert len(sent["message"]) == conditions.MAX_MESSAGE
    assert conditions.plan_patch(pod(sent), GATE, long, "t") is None


def test_find_ignores_other_conditions_and_garbage() -> None:
    weird: dict[str, Any] = {"status": {"conditions": ["junk", {"type": "Ready"}]}}
    assert conditions.find(weird, GATE) is None
    assert conditions.find({}, GATE) is None
