"""A PodDisruptionBudget that lets one selected pod at a time be evicted."""

from __future__ import annotations

from collections.abc import Mapping

from runestone_operator.core import meta


def pdb(
    owner: meta.Owner, name: str, labels: Mapping[str, str], selector: Mapping[str, str]
) -> meta.Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta.object_meta(owner, name, labels),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(selector)}},
    }
