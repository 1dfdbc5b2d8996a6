"""Object metadata shared by every child: name, namespace, labels and the owner reference that
lets the garbage collector delete the child with its owner."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
    labels: Mapping[str, str],
    *,
    annotations: Mapping[str, str] | None = None,
    owned: bool = True,
) -> dict[str, Any]:
    """Metadata for a child of `owner`: its name, the kind's labels and the owner reference.
    `owned=False` leaves the reference out, so the child outlives its owner (a retained key or
    CA, which an owner re-created under the same name adopts by its name)."""
    meta: dict[str, Any] = {"name": name, "namespace": owner.namespace, "labels": dict(labels)}
    if owned:
        meta["ownerReferences"] = [owner.reference()]
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    return meta
