"""Container resources in a spec (the workload's and the sidecar's): quantities in the API
server's form, each request at most its limit; the operator's parse refuses what the CRD does."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from runestone_operator.core import models


@pytest.mark.parametrize(
    "resources",
    [
        {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": 1, "memory": "1024Mi"}},
        {"requests": {"cpu": "2"}, "limits": {"memory": "1Gi"}},  # no limit on CPU: any request
        {"limits": {"cpu": "1.5", "memory": "1e9"}},
        {"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 1}},
    ],
)
def test_valid_resources_parse(resources: dict[str, Any]) -> None:
    parsed = models.Resources.model_validate(resources)
    assert parsed.model_dump(mode="json", exclude_none=True) == resources


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            {"requests": {"cpu": 2}, "limits": {"cpu": "1500m"}},
            "requests.cpu (2) exceeds limits.cpu",
        ),
        (
            {"requests": {"memory": "2Gi"}, "limits": {"memory": "1Gi"}},
            "requests.memory (2Gi) exceeds limits.memory (1Gi)",
        ),
        ({"limits": {"cpu": "two"}}, "should match pattern"),
        ({"limits": {"memory": "-1Gi"}}, "should match pattern"),
        ({"limits": {"memory": -1}}, "greater than or equal to 0"),
    ],
)
def test_invalid_resources_are_refused_with_what_to_fix(
    resources: dict[str, Any], message: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as refused:
        models.Resources.model_validate(resources)
    assert message in str(refused.value)
