"""Which of a Gateway and a VectorCluster of one name keeps it: the one created first, and on a
tie of the (whole-second) timestamps the lower uid, so both reconciles agree."""

from __future__ import annotations

from typing import Any

import pytest

from runestone_operator.core.steps import namesakes


def _meta(created: str, uid: str) -> dict[str, Any]:
    return {"metadata": {"creationTimestamp": created, "uid": uid}}


@pytest.mark.parametrize(
    ("mine", "theirs", "first"),
    [
        (("2026-12-05T10:00:00Z", "b"), ("2026-12-05T10:00:01Z", "a"), True),
        (("2026-12-05T10:00:01Z", "a"), ("2026-12-05T10:00:00Z", "b"), False),
        (("2026-12-05T10:00:00Z", "a"), ("2026-12-05T10:00:00Z", "b"), True),
        (("2026-12-05T10:00:00Z", "b"), ("2026-12-05T10:00:00Z", "a"), False),
    ],
)
def test_the_one_created_first_keeps_the_name(
    mine: tuple[str, str], theirs: tuple[str, str], first: bool
) -> None:
    assert namesakes.first(*mine, _meta(*theirs)) is first
    # The other side's reconcile reaches the opposite answer: exactly one is blocked.
    assert namesakes.first(*theirs, _meta(*mine)) is not first
