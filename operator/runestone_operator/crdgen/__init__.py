"""Generate the CustomResourceDefinitions from the kinds' typed models (`<kind>/model.py`) and the
one list of kinds (`core.kinds`).

Pure: models in, manifests (dicts) and YAML text out. `python -m runestone_operator.crdgen`
writes them to `crds/` and `helm/runestone/crds/`; nobody edits that YAML by hand."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import yaml

from runestone_operator.core import kinds
from runestone_operator.crdgen import schema
from runestone_operator.gateway import model as gateway
from runestone_operator.providerpool import model as providerpool
from runestone_operator.vectorcluster import model as vectorcluster

HEADER = (
    "# Generated from runestone_operator/<kind>/model.py by `make crds`; do not edit by hand.\n"
    "# A unit test fails when this file is out of date.\n"
)
CATEGORIES = ["runestone"]
OUTPUT_DIRS = ("crds", "helm/runestone/crds")

Manifest = dict[str, Any]


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    priority: int = 0
    description: str = ""

    def to_manifest(self) -> dict[str, Any]:
        column: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.priority:
            column["priority"] = self.priority
        if self.description:
            column["description"] = self.description
        return column


@dataclass(frozen=True)
class Definition:
    """Everything that defines one custom resource."""

    kind: kinds.Kind
    spec: type[pydantic.BaseModel]
    status: type[pydantic.BaseModel]
    columns: tuple[PrinterColumn, ...]
    root_rules: tuple[dict[str, str], ...] = ()
    selectable: tuple[str, ...] = ()
    """JSON paths a field selector may name when listing (Kubernetes 1.31+; 1.30 drops them)."""


def _condition_column(condition: str, priority: int = 0) -> PrinterColumn:
    return PrinterColumn(
        condition,
        f'.status.conditions[?(@.type=="{condition}")].status',
        priority=priority,
    )


_REASON = PrinterColumn("Reason", '.status.conditions[?(@.type=="Ready")].reason', priority=1)
_AGE = PrinterColumn("Age", ".metadata.creationTimestamp", type="date")

DEFINITIONS = (
    Definition(
        kind=kinds.PROVIDER_POOL,
        spec=providerpool.ProviderPoolSpec,
        status=providerpool.ProviderPoolStatus,
        columns=(
            _condition_column("Ready"),
            PrinterColumn("Providers", ".spec.providers[*].name"),
            PrinterColumn("Models", ".status.models", priority=1),
            _condition_column("Degraded", priority=1),
            _REASON,
            _AGE,
        ),
    ),
    Definition(
        kind=kinds.GATEWAY,
        spec=gateway.GatewaySpec,
        status=gateway.GatewayStatus,
        columns=(
            _condition_column("Ready"),
            PrinterColumn("Replicas", ".status.readyReplicas", type="integer"),
            PrinterColumn("URL", ".status.url"),
            _condition_column("Degraded", priority=1),
            _REASON,
            _AGE,
        ),
        root_rules=(gateway.NAME_RULE,),
        selectable=(gateway.VECTOR_CLUSTER_FIELD,),
    ),
    Definition(
        kind=kinds.VECTOR_CLUSTER,
        spec=vectorcluster.VectorClusterSpec,
        status=vectorcluster.VectorClusterStatus,
        columns=(
            _condition_column("Ready"),
            PrinterColumn("Replicas", ".spec.replicas", type="integer"),
            PrinterColumn("Ready Replicas", ".status.readyReplicas", type="integer"),
            PrinterColumn("Version", ".spec.version"),
            _condition_column("Degraded", priority=1),
            _REASON,
            _AGE,
        ),
        root_rules=(vectorcluster.NAME_RULE,),
    ),
)


def _object_schema(definition: Definition) -> dict[str, Any]:
    spec = schema.structural(definition.spec.model_json_schema(by_alias=True))
    status = schema.structural(definition.status.model_json_schema(by_alias=True))
    root: dict[str, Any] = {
        "type": "object",
        "description": spec.pop("description", definition.kind.name),
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    if definition.root_rules:
        root["x-kubernetes-validations"] = list(definition.root_rules)
    return root


def definition(of: Definition) -> Manifest:
    """The CustomResourceDefinition of one kind."""
    kind = of.kind
    version: dict[str, Any] = {
        "name": kinds.VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": _object_schema(of)},
        "subresources": {"status": {}},
        "additionalPrinterColumns": [c.to_manifest() for c in of.columns],
    }
    if of.selectable:
        version["selectableFields"] = [{"jsonPath": path} for path in of.selectable]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.crd_name,
            "labels": {"app.kubernetes.io/part-of": "runestone"},
        },
        "spec": {
            "group": kinds.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.name,
                "listKind": f"{kind.name}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": CATEGORIES,
            },
            "versions": [version],
        },
    }


def definitions() -> list[Manifest]:
    return [definition(of) for of in DEFINITIONS]


def file_name(of: Definition) -> str:
    return f"{of.kind.crd_name}.yaml"


class _Dumper(yaml.SafeDumper):
    """Writes a part the schema repeats (a shared rule, a quantity's schema) in full each time,
    not as a YAML anchor and its aliases: a reader of the CRD sees each field whole."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(manifest: Manifest) -> str:
    return HEADER + yaml.dump(manifest, Dumper=_Dumper, sort_keys=False, width=100)


def rendered_files() -> dict[str, str]:
    """File name -> content for every CRD."""
    return {file_name(of): render(definition(of)) for of in DEFINITIONS}


def write(repo: Path) -> list[Path]:
    """Write every CRD into each output folder under `repo`; return the paths written."""
    written: list[Path] = []
    files = rendered_files()
    for folder in OUTPUT_DIRS:
        target = repo / folder
        target.mkdir(parents=True, exist_ok=True)
        for stale in target.glob(f"*.{kinds.GROUP}.yaml"):
            if stale.name not in files:
                stale.unlink()
        for name, content in files.items():
            path = target / name
            path.write_text(content)
            written.append(path)
    return written
