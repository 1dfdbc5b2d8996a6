"""Events about custom resources."""

from __future__ import annotations

from runestone_operator.core import events, meta


def test_event_points_at_its_object(owner: meta.Owner) -> None:
    event = events.event(owner, events.WARNING, "MissingSecret", "x" * 5000, "2026-01-01T00:00:00Z")
    assert event["metadata"] == {"generateName": "main.", "namespace": "team"}
    assert event["involvedObject"]["uid"] == "uid-1234"
    assert event["involvedObject"]["kind"] == "Gateway"
    assert event["type"] == "Warning"
    assert len(event["message"]) == 1024
    assert event["reportingComponent"] == "runestone-operator"
