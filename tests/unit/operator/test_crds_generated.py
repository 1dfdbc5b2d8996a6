"""The CRDs in crds/ and helm/runestone/crds/ are exactly what the models generate, and they are
structural schemas the API server accepts (no $ref, no null unions, CEL rules attached)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from runestone_operator import crdgen

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("folder", crdgen.OUTPUT_DIRS)
def test_committed_crds_match_the_models(folder: str) -> None:
    expected = crdgen.rendered_files()
    committed = {path.name: path.read_text() for path in (REPO / folder).glob("*.yaml")}
    assert sorted(committed) == sorted(expected), "run `make crds`"
    for name, content in expected.items():
        assert committed[name] == content, f"{folder}/{name} is out of date: run `make crds`"


def _walk(schema: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(schema, dict):
        found.append((path, schema))
        for key, value in schema.items():
            found += _walk(value, f"{path}.{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            found += _walk(value, f"{path}[{index}]")
    return found


@pytest.mark.parametrize("crd", crdgen.definitions(), ids=lambda crd: crd["metadata"]["name"])
def test_schema_is_structural(crd: dict[str, Any]) -> None:
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert "$ref" not in node, path
        assert "anyOf" not in node or node.get("x-kubernetes-int-or-string"), path
        assert node.get("type") != "null", path
        assert "title" not in node or path.endswith(".properties"), path
        assert node.get("additionalProperties") is not False, path
        if "exclusiveMinimum" in node:
            assert node["exclusiveMinimum"] is True, path


@pytest.mark.parametrize(
    ("name", "short", "messages"),
    [
        (
            "gateways.runestone.dev",
            "rsgw",
            {
                "autoscaling.minReplicas must not exceed autoscaling.maxReplicas",
                "tls.secretName is required when tls.mode is secret",
                "tls.issuerRef is required when tls.mode is certManager",
                "tls.renewBefore must be shorter than tls.duration",
                "a redis rateLimitStore needs exactly one of url or urlSecretRef",
            },
        ),
        (
            "providerpools.runestone.dev",
            "rspp",
            {
                "baseURL is required unless type is mock",
                "a mock provider takes neither baseURL nor apiKeySecretRef",
                "anthropic providers cannot serve embedding models",
            },
        ),
        (
            "vectorclusters.runestone.dev",
            "rsvc",
            {
                "replicationFactor cannot exceed replicas",
                "backup.s3 is required when backup.backend is s3",
                "spec.restore can be set only when a VectorCluster is created: a restore fills a "
                "new, empty cluster",
            },
        ),
    ],
)
def test_names_subresources_columns_and_rules(name: str, short: str, messages: set[str]) -> None:
    crd = next(c for c in crdgen.definitions() if c["metadata"]["name"] == name)
    spec = crd["spec"]
    assert spec["names"]["shortNames"] == [short]
    assert spec["names"]["categories"] == ["runestone"]
    version = spec["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = {column["name"] for column in version["additionalPrinterColumns"]}
    assert {"Ready", "Age"} <= columns
    found = [
        rule
        for _, node in _walk(version["schema"]["openAPIV3Schema"])
        for rule in node.get("x-kubernetes-validations", [])
    ]
    assert messages <= {rule["message"] for rule in found}
    assert all(rule["message"] and rule["rule"] for rule in found)


def test_vector_cluster_voters_rule() -> None:
    crd = next(
        c for c in crdgen.definitions() if c["metadata"]["name"] == "vectorclusters.runestone.dev"
    )
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    rules = {rule["rule"] for rule in spec["x-kubernetes-validations"]}
    assert "self.replicas in [1, 3, 5] || self.replicas > 5" in rules


def test_nested_defaults_are_fully_defaulted_objects() -> None:
    crd = next(c for c in crdgen.definitions() if c["metadata"]["name"] == "gateways.runestone.dev")
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    # CEL rules on tls read mode/duration/renewBefore: the default must carry all of them.
    assert spec["properties"]["tls"]["default"] == {
        "mode": "selfSigned",
        "duration": "2160h",
        "renewBefore": "720h",
    }
    assert spec["properties"]["rateLimitStore"]["default"] == {"type": "local", "failMode": "open"}


def test_status_conditions_follow_metav1_condition() -> None:
    crd = next(c for c in crdgen.definitions() if c["metadata"]["name"] == "gateways.runestone.dev")
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    conditions = status["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    item = conditions["items"]
    assert set(item["required"]) == {"type", "status", "reason", "message", "lastTransitionTime"}
    assert item["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
    assert item["properties"]["lastTransitionTime"]["format"] == "date-time"
    assert "observedGeneration" in status["properties"]


def test_print_crds_matches_the_files(capsys: pytest.CaptureFixture[str]) -> None:
    from runestone_operator import cli

    assert cli.main(["--print-crds"]) == 0
    printed = list(yaml.safe_load_all(capsys.readouterr().out))
    assert printed == crdgen.definitions()
