"""The typed specs: defaults, and the example CRs parse into them."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
import yaml

from runestone_operator.gateway import model as gateway
from runestone_operator.providerpool import model as providerpool
from runestone_operator.vectorcluster import model as vectorcluster

REPO = Path(__file__).resolve().parents[3]


def test_gateway_defaults() -> None:
    spec = gateway.GatewaySpec.model_validate({"providerPools": [{"name": "p"}]})
    assert spec.replicas == 2
    assert spec.tls.mode == "selfSigned"
    assert spec.tls.duration == "2160h"
    assert spec.key_rotation.grace_period == "24h"
    assert spec.rate_limit_store.type == "local"
    assert spec.api_keys == []
    assert spec.autoscaling is None
    assert spec.deletion_policy == "Retain"  # keys and CA outlive a mistaken delete


def test_specs_are_frozen_and_refuse_unknown_fields() -> None:
    spec = gateway.GatewaySpec.model_validate({"providerPools": [{"name": "p"}]})
    with pytest.raises(pydantic.ValidationError):
        spec.replicas = 3  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        gateway.GatewaySpec.model_validate({"providerPools": [{"name": "p"}], "replica": 1})


def test_provider_pool_model_names() -> None:
    spec = providerpool.ProviderPoolSpec.model_validate(
        {
            "providers": [
                {"name": "a", "type": "mock", "models": [{"name": "m2"}, {"name": "m1"}]},
                {"name": "b", "type": "mock", "models": [{"name": "m1"}]},
            ]
        }
    )
    assert spec.model_names() == ["m1", "m2"]
    assert spec.providers[0].models[0].kinds == ["chat"]


@pytest.mark.parametrize("example", sorted((REPO / "deploy/examples").glob("*.yaml")))
def test_examples_parse(example: Path) -> None:
    models: dict[str, type[pydantic.BaseModel]] = {
        "Gateway": gateway.GatewaySpec,
        "ProviderPool": providerpool.ProviderPoolSpec,
        "VectorCluster": vectorcluster.VectorClusterSpec,
    }
    documents = [d for d in yaml.safe_load_all(example.read_text()) if d]
    custom = [d for d in documents if d["apiVersion"].startswith("runestone.dev/")]
    assert custom
    for document in custom:
        models[document["kind"]].model_validate(document["spec"])
