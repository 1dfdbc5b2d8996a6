"""Object metadata shared by every child: name, namespace, labels and the owner reference that
lets the garbage collector delete the child with its owner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runestone_operator import names

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Owner:
    """The custom resource a child belongs to."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def object_meta(
    owner: Owner,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Metadata for a child of a Gateway: its labels plus any extra ones, and the owner."""
    meta: dict[str, Any] = {
        "name": name,
        "namespace": owner.namespace,
        "labels": {**names.gateway_labels(owner.name), **(labels or {})},
        "ownerReferences": [owner.reference()],
    }
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    return meta
