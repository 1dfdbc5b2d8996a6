"""A VectorCluster as its children's builders see it: the owner, and its engine's name, which is
the members' `app.kubernetes.io/component` label."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runestone_operator.core import meta
from runestone_operator.vectorcluster import names


@dataclass(frozen=True)
class Cluster:
    owner: meta.Owner
    component: str

    @property
    def name(self) -> str:
        return self.owner.name

    @property
    def namespace(self) -> str:
        return self.owner.namespace

    def labels(self) -> dict[str, str]:
        return names.labels(self.name, self.component)

    def selector(self) -> dict[str, str]:
        return names.selector(self.name, self.component)

    def object_meta(
        self,
        name: str,
        *,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Metadata for a child: the cluster's labels plus `labels`, and the owner reference."""
        return meta.object_meta(
            self.owner, name, {**self.labels(), **(labels or {})}, annotations=annotations
        )
