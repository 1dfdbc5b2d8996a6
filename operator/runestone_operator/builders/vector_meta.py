"""Object metadata for the children of a VectorCluster: its labels and the owner reference."""

from __future__ import annotations

from typing import Any

from runestone_operator import vectornames
from runestone_operator.builders import meta


def object_meta(
    owner: meta.Owner,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": owner.namespace,
        "labels": {**vectornames.labels(owner.name), **(labels or {})},
        "ownerReferences": [owner.reference()],
    }
    if annotations:
        metadata["annotations"] = dict(sorted(annotations.items()))
    return metadata
