"""Which of a Gateway and a VectorCluster of one name keeps it: the one created first; when both
were created in the same second (timestamps are whole seconds), the one whose Service of that
name is there already, else the lower uid. Both reconciles agree: exactly one keeps it."""

from __future__ import annotations

from typing import Any

import pytest

from runestone_operator.core import kinds
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
        ((SECOND, "b"), (LATER, "a"), "a", True),  # earlier wins, whoever holds the Service
        ((LATER, "a"), (SECOND, "b"), "a", False),
        ((SECOND, "a"), (SECOND, "b"), None, True),  # same second, no Service: lower uid
        ((SECOND, "b"), (SECOND, "a"), None, False),
        ((SECOND, "b"), (SECOND, "a"), "b", True),  # same second: the Service's owner
        ((SECOND, "a"), (SECOND, "b"), "b", False),
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
