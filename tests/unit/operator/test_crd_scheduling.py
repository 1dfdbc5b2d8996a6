"""Where pods may run (`spec.scheduling` of a Gateway and a VectorCluster): node selector labels
and tolerations in the forms a Pod spec takes; the operator's parse refuses what the CRD does."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from runestone_operator.core import models


def test_a_node_pool_and_its_taint_parse() -> None:
    parsed = models.Scheduling.model_validate(
        {
            "nodeSelector": {"cloud.example.com/pool": "vectors", "disk": ""},
            "tolerations": [
                {"key": "dedicated", "value": "vectors", "effect": "NoSchedule"},
                {"operator": "Exists"},  # every taint
            ],
        }
    )
    assert parsed.node_selector == {"cloud.example.com/pool": "vectors", "disk": ""}
    assert [t.operator for t in parsed.tolerations] == ["Equal", "Exists"]


@pytest.mark.parametrize(
    ("scheduling", "message"),
    [
        ({"nodeSelector": {"bad key!": "x"}}, "is not a label key"),
        ({"nodeSelector": {"pool/" + "n" * 64: "x"}}, "is not a label key"),
        ({"nodeSelector": {"pool": "two words"}}, "should match pattern"),
        (
            {"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]},
            "operator Exists takes no value",
        ),
        ({"tolerations": [{"value": "v"}]}, "without a key must have operator Exists"),
        (
            {"tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 60}]},
            "only for effect NoExecute",
        ),
        ({"tolerations": [{"key": "k", "effect": "Sometimes"}]}, "Input should be"),
    ],
)
def test_what_a_pod_would_refuse_is_refused_with_what_to_fix(
    scheduling: dict[str, Any], message: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as refused:
        models.Scheduling.model_validate(scheduling)
    assert message in str(refused.value)
