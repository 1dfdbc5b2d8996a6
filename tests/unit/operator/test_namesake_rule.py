"""Which of a Gateway and a VectorCluster of one name keeps it: the one that holds the Service of
that name; when neither does, the one created first, and when both were created in the same
second (timestamps are whole seconds), the lower uid. Both reconciles agree: exactly one keeps
it."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any, cast

import pytest

from runestone_operator.core import context, kinds, meta
from runestone_operator.core.steps import namesakes

SECOND = "2026-12-05T10:00:00Z"
LATER = "2026-12-05T10:00:01Z"


def _meta(created: str, uid: str) -> dict[str, Any]:
    return {"metadata": {"creationTimestamp": created, "uid": uid}}


def _service(owner_uid: str) -> dict[str, Any]:
    return {"metadata": {"ownerReferences": [{"uid": owner_uid, "controller": True}]}}


@pytest.mark.parametrize(
    ("mine", "theirs", "service_of", "first"),
    [
        ((SECOND, "b"), (LATER, "a"), None, True),  # no Service: the earlier
        ((LATER, "a"), (SECOND, "b"), None, False),
        ((SECOND, "a"), (SECOND, "b"), None, True),  # same second, no Service: lower uid
        ((SECOND, "b"), (SECOND, "a"), None, False),
        ((SECOND, "b"), (SECOND, "a"), "b", True),  # the Service's owner, whenever created
        ((SECOND, "a"), (SECOND, "b"), "b", False),
        ((LATER, "a"), (SECOND, "b"), "a", True),
        ((SECOND, "b"), (LATER, "a"), "b", True),
        ((SECOND, "b"), (LATER, "a"), "someone-else", True),  # a Service of neither
    ],
)
def test_exactly_one_of_the_two_keeps_the_name(
    mine: tuple[str, str], theirs: tuple[str, str], service_of: str | None, first: bool
) -> None:
    service = _service(service_of) if service_of else None
    assert namesakes.first(*mine, _meta(*theirs), service) is first
    assert namesakes.first(*theirs, _meta(*mine), service) is not first


def test_each_kind_looks_for_a_namesake_of_the_other() -> None:
    assert {
        kinds.GATEWAY.name: kinds.VECTOR_CLUSTER,
        kinds.VECTOR_CLUSTER.name: kinds.GATEWAY,
    } == namesakes.OTHER


class _Reads:
    """The two reads the step makes, answered from a dict (a missing object is None, as
    `Kube.get` answers a 404); each read is recorded."""

    def __init__(self, objects: dict[str, dict[str, Any]]) -> None:
        self.objects = objects
        self.read: list[str] = []

    async def get(self, api_version: str, kind: str, namespace: str, name: str) -> Any:
        self.read.append(kind)
        return self.objects.get(kind)


def _context(reads: _Reads, kind: str, created: str, uid: str) -> context.Context[Any, Any]:
    owner = meta.Owner(kinds.API_VERSION, kind, "team", "twin", uid)
    now = datetime.datetime(2026, 12, 5, tzinfo=datetime.UTC)
    return context.Context(
        kube=cast(Any, reads), settings=cast(Any, None), owner=owner, spec=None, status=None,
        generation=1, annotations={}, now=now, created=created,
    )  # fmt: skip


def _held(kind: str, uid: str, name: str = "twin") -> dict[str, Any]:
    reference = {
        "apiVersion": kinds.API_VERSION, "kind": kind, "name": name, "uid": uid, "controller": True,
    }  # fmt: skip
    return {"metadata": {"ownerReferences": [reference]}}


def test_a_service_held_by_the_other_kind_blocks_whatever_the_namesake_read_says() -> None:
    # The namesake's own read answering nothing (a 404) must not let this one take the name.
    reads = _Reads({"Service": _held("Gateway", "g")})
    with pytest.raises(context.Blocked) as blocked:
        asyncio.run(namesakes.ensure_name_free(_context(reads, "VectorCluster", LATER, "v")))
    assert blocked.value.reason == "NameTaken"
    assert "a Gateway named 'twin' exists in this namespace" in blocked.value.message
    assert reads.read == ["Service"]


def test_the_holder_of_the_service_reads_nothing_else() -> None:
    reads = _Reads({"Service": _held("Gateway", "g"), "VectorCluster": _meta(SECOND, "v")})
    asyncio.run(namesakes.ensure_name_free(_context(reads, "Gateway", LATER, "g")))
    assert reads.read == ["Service"]


def test_with_no_service_yet_the_namesake_created_first_keeps_the_name() -> None:
    reads = _Reads({"Gateway": _meta(SECOND, "g")})
    with pytest.raises(context.Blocked):
        asyncio.run(namesakes.ensure_name_free(_context(reads, "VectorCluster", LATER, "v")))
    assert reads.read == ["Service", "Gateway"]
    alone = _Reads({})
    asyncio.run(namesakes.ensure_name_free(_context(alone, "VectorCluster", LATER, "v")))


def test_a_service_held_by_an_object_of_another_name_is_not_the_namesakes() -> None:
    reads = _Reads({"Service": _held("Gateway", "g", name="other")})
    asyncio.run(namesakes.ensure_name_free(_context(reads, "VectorCluster", LATER, "v")))
    assert reads.read == ["Service", "Gateway"]
