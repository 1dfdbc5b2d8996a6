"""After step 5 (the StatefulSet): the members' volumes grow to `spec.storage.size`. A
StatefulSet's claim templates cannot change once it exists, so a larger size is asked of each
member's bound claim directly, and the volume's driver grows it (a member added later, from the
old template, is grown the same way). The API server refuses unless the claim's StorageClass
allows volume expansion; that refusal is reported as a Degraded condition naming the claims, and
their size stays as it was. A volume cannot shrink: a size below what a claim asks for already
is reported the same way and changes nothing (the API server cannot refuse it, not knowing the
volumes; and a user who asked more of a fixed StorageClass than it gives can so go back). The
CRD refuses a change of StorageClass."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runestone_operator.core import kube, quantities
from runestone_operator.vectorcluster import names
from runestone_operator.vectorcluster.context import Context

_NOT_EXPANDABLE = "must support resize"
"""What the API server's PersistentVolumeClaimResize admission says of a claim whose StorageClass
does not allow volume expansion (HTTP 403, as an RBAC refusal is: the words tell them apart)."""


@dataclass(frozen=True)
class Volumes:
    """The members' claims measured against the spec's size."""

    size: str
    growing: tuple[str, ...] = ()
    """Claims asked for the size whose capacity has not reached it yet."""
    refused: tuple[str, ...] = ()
    """Claims the API server refused to grow: their StorageClass does not allow it."""
    larger: tuple[str, ...] = ()
    """Claims that already ask for more than the size: a volume cannot shrink."""
    remount: tuple[str, ...] = ()
    """Growing claims whose volume has grown but whose filesystem the driver grows only when the
    volume is next mounted (the claim's `FileSystemResizePending`): their member must restart."""


def _member_ordinal(statefulset: str, claim: str) -> int | None:
    """The member a claim holds the data volume of (`data-<statefulset>-<ordinal>`, as the
    StatefulSet controller names it), or None for any other claim (a backup's)."""
    prefix = f"{names.DATA_VOLUME}-{statefulset}-"
    rest = claim.removeprefix(prefix)
    return int(rest) if rest != claim and rest.isdigit() else None


def _storage(resources: Mapping[str, Any] | None, field: str) -> Any:
    return ((resources or {}).get(field) or {}).get("storage")


async def ensure_volume_size(ctx: Context, statefulset: Mapping[str, Any]) -> Volumes:
    """Ask every bound member claim below the size for it; one list of the cluster's claims (the
    StatefulSet controller labels them with its selector), so a reconcile costs one call."""
    size = str(ctx.spec.storage.size)
    wanted = quantities.exact(size)
    assert wanted is not None  # the CRD and the model accept only quantities
    name = str(statefulset["metadata"]["name"])
    replicas = int((statefulset.get("spec") or {}).get("replicas") or 0)
    listed = await ctx.kube.list(
        "v1", "PersistentVolumeClaim", ctx.namespace, names.claim_selector(ctx.name)
    )
    members = {}
    for claim in listed:
        ordinal = _member_ordinal(name, str(claim["metadata"]["name"]))
        # A claim a scale-down left behind waits, at its size, for a member to come back: grown
        # now, a driver that grows filesystems only when mounted would keep it growing forever.
        if ordinal is not None and ordinal < replicas:
            members[ordinal] = claim
    growing: list[str] = []
    refused: list[str] = []
    larger: list[str] = []
    remount: list[str] = []
    for _, claim in sorted(members.items()):
        claimed = str(claim["metadata"]["name"])
        if claim["metadata"].get("deletionTimestamp"):
            continue
        status = claim.get("status") or {}
        if status.get("phase") != "Bound":
            continue  # only a bound claim may be grown; it binds at the template's size
        asked = quantities.exact(_storage(claim["spec"].get("resources"), "requests") or 0)
        if asked is not None and asked > wanted:
            larger.append(claimed)
            continue
        if asked is None or asked < wanted:
            try:
                await ctx.kube.apply(_grown(claim, size))
            except kube.ApiError as error:
                if error.forbidden and _NOT_EXPANDABLE in str(error):
                    refused.append(claimed)
                    continue
                raise
        capacity = quantities.exact(_storage(status, "capacity") or 0)
        if capacity is None or capacity < wanted:
            growing.append(claimed)
            if any(
                condition.get("type") == "FileSystemResizePending"
                and condition.get("status") == "True"
                for condition in status.get("conditions") or []
            ):
                remount.append(claimed)
    return Volumes(size, tuple(growing), tuple(refused), tuple(larger), tuple(remount))


def _grown(claim: Mapping[str, Any], size: str) -> dict[str, Any]:
    """The server-side apply asking `claim`, listed a moment before, for `size`. Should the claim
    have gone since, the apply fails (a claim of nothing but a size is not valid) rather than
    making one."""
    metadata = claim["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": metadata["name"], "namespace": metadata["namespace"]},
        "spec": {"resources": {"requests": {"storage": size}}},
    }
