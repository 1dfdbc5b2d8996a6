"""Kubernetes Events about a custom resource. Messages never carry a secret: key Events name the
key, never its value."""

from __future__ import annotations

from runestone_operator.core import meta, names

NORMAL = "Normal"
WARNING = "Warning"


def event(
    involved: meta.Owner, event_type: str, reason: str, message: str, now_text: str
) -> meta.Manifest:
    """A core/v1 Event; `now_text` is an RFC 3339 timestamp (see `timestamps.render`)."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{involved.name}.", "namespace": involved.namespace},
        "involvedObject": {
            "apiVersion": involved.api_version,
            "kind": involved.kind,
            "name": involved.name,
            "namespace": involved.namespace,
            "uid": involved.uid,
        },
        "type": event_type,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": names.MANAGED_BY},
        "reportingComponent": names.MANAGED_BY,
        "reportingInstance": names.MANAGED_BY,
        "firstTimestamp": now_text,
        "lastTimestamp": now_text,
        "count": 1,
    }
