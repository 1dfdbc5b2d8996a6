"""Every manifest a user installs is accepted by the real API server (server-side dry-run,
strict field validation): the chart with default and production values, in namespaced mode, and
with its operator ServiceMonitor and Grafana dashboard, both kustomize overlays, the example
custom resources, and the Argo CD Application."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from devcluster import chart
from integration.operator import standins
from integration.packaging.conftest import DryRun, documents

CHART_VALUES: dict[str, tuple[list[Path], dict[str, str]]] = {
    "default": ([], {}),
    "production": ([chart.PRODUCTION_VALUES], {"image.digest": "sha256:" + "0f" * 32}),
}


def _names(text: str) -> list[str]:
    return sorted(f"{d['kind']}/{d['metadata']['name']}" for d in documents(text))


def _accepted(output: str, manifests: str) -> None:
    """kubectl reports every object it sent as applied (server dry run)."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == len(documents(manifests)), output
    assert all(line.endswith("(server dry run)") for line in lines), output


@pytest.mark.parametrize("values", CHART_VALUES.values(), ids=CHART_VALUES.keys())
def test_chart_is_accepted(
    values: tuple[list[Path], dict[str, str]], namespace: str, dry_run: DryRun
) -> None:
    files, settings = values
    manifests = chart.template(files, settings, namespace=namespace, include_crds=True)
    assert "Deployment/runestone-operator" in _names(manifests)
    _accepted(dry_run(manifests), manifests)


def test_chart_in_namespaced_mode_is_accepted(namespace: str, dry_run: DryRun) -> None:
    manifests = chart.template(
        set_values={"operator.watchNamespaces": "{" + namespace + "}"}, namespace=namespace
    )
    assert "Role/runestone-operator" in _names(manifests)
    _accepted(dry_run(manifests), manifests)


def test_chart_with_its_service_monitor_and_dashboard_is_accepted(
    namespace: str, dry_run: DryRun, installed_crd: Callable[[dict[str, Any]], str]
) -> None:
    """The ServiceMonitor against the Prometheus Operator's API (a strict stand-in CRD)."""
    installed_crd(standins.SERVICE_MONITOR_CRD)
    settings = {
        "operator.metrics.serviceMonitor.enabled": "true",
        "operator.metrics.serviceMonitor.labels.release": "prometheus",
        "grafanaDashboard.enabled": "true",
    }
    manifests = chart.template([chart.PRODUCTION_VALUES], settings, namespace=namespace)
    names = _names(manifests)
    for name in (
        "ServiceMonitor/runestone-operator-metrics",
        "Service/runestone-operator-metrics",
        "ConfigMap/runestone-dashboard",
        "PodDisruptionBudget/runestone-operator",
        "Role/runestone-operator-leader-election",
    ):
        assert name in names
    _accepted(dry_run(manifests), manifests)


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_kustomize_overlay_is_accepted(
    overlay: str, dry_run: DryRun, existing_namespace: Callable[[str], None]
) -> None:
    manifests = chart.kustomize(chart.DEPLOY / "overlays" / overlay)
    names = _names(manifests)
    assert "Deployment/runestone-operator" in names
    assert "CustomResourceDefinition/gateways.runestone.dev" in names
    # The overlay creates its namespace itself; a dry-run creates nothing, so the objects that
    # live in it need it to exist already.
    existing_namespace(chart.NAMESPACE)
    _accepted(dry_run(manifests), manifests)


@pytest.mark.parametrize("example", sorted(chart.EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_example_is_accepted(
    example: Path, namespace: str, dry_run: DryRun, chart_crds: list[str]
) -> None:
    documents_ = documents(example.read_text())
    for document in documents_:
        document["metadata"]["namespace"] = namespace
    manifests = yaml.safe_dump_all(documents_)
    _accepted(dry_run(manifests), manifests)


# Argo CD's Application API is not installed here, and its CRD is not ours to copy, so this
# stand-in declares the schema of the Application fields Runestone's manifest uses (as documented
# by Argo CD); strict validation then refuses any field outside it, a misspelt one included.
_STRING: dict[str, Any] = {"type": "string"}
APPLICATION_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "applications.argoproj.io"},
    "spec": {
        "group": "argoproj.io",
        "scope": "Namespaced",
        "names": {"plural": "applications", "singular": "application", "kind": "Application"},
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "required": ["spec"],
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["destination", "project"],
                                "properties": {
                                    "project": _STRING,
                                    "source": {
                                        "type": "object",
                                        "required": ["repoURL"],
                                        "properties": {
                                            "repoURL": _STRING,
                                            "targetRevision": _STRING,
                                            "path": _STRING,
                                            "chart": _STRING,
                                            "helm": {
                                                "type": "object",
                                                "properties": {
                                                    "releaseName": _STRING,
                                                    "valueFiles": {
                                                        "type": "array",
                                                        "items": _STRING,
                                                    },
                                                    "values": _STRING,
                                                },
                                            },
                                        },
                                    },
                                    "destination": {
                                        "type": "object",
                                        "properties": {
                                            "server": _STRING,
                                            "name": _STRING,
                                            "namespace": _STRING,
                                        },
                                    },
                                    "syncPolicy": {
                                        "type": "object",
                                        "properties": {
                                            "automated": {
                                                "type": "object",
                                                "properties": {
                                                    "prune": {"type": "boolean"},
                                                    "selfHeal": {"type": "boolean"},
                                                    "allowEmpty": {"type": "boolean"},
                                                },
                                            },
                                            "syncOptions": {"type": "array", "items": _STRING},
                                            "retry": {
                                                "type": "object",
                                                "properties": {
                                                    "limit": {"type": "integer"},
                                                    "backoff": {
                                                        "type": "object",
                                                        "properties": {
                                                            "duration": _STRING,
                                                            "factor": {"type": "integer"},
                                                            "maxDuration": _STRING,
                                                        },
                                                    },
                                                },
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}

APPLICATION = chart.DEPLOY / "argocd" / "application.yaml"


def test_argocd_application_points_at_the_chart() -> None:
    (application,) = documents(APPLICATION.read_text())
    source = application["spec"]["source"]
    chart_dir = chart.REPO / source["path"]
    assert chart_dir == chart.CHART
    for values_file in source["helm"]["valueFiles"]:
        assert (chart_dir / values_file).is_file(), values_file
    assert source["helm"]["releaseName"] == chart.RELEASE
    # The same namespace the kustomize base installs into, so the two never disagree.
    assert application["spec"]["destination"]["namespace"] == chart.NAMESPACE
    assert "CreateNamespace=true" in application["spec"]["syncPolicy"]["syncOptions"]


def test_argocd_application_is_accepted(
    dry_run: DryRun,
    installed_crd: Callable[[dict[str, Any]], str],
    existing_namespace: Callable[[str], None],
) -> None:
    installed_crd(APPLICATION_CRD)
    manifests = APPLICATION.read_text()
    existing_namespace(documents(manifests)[0]["metadata"]["namespace"])
    _accepted(dry_run(manifests), manifests)
    misspelt = manifests.replace("selfHeal:", "selfheal:")
    with pytest.raises(RuntimeError, match="selfheal"):
        dry_run(misspelt)
