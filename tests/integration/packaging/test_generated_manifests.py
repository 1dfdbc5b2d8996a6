"""The generated packaging files match their sources: the chart's RBAC files are what
`runestone operator --print-rbac` and `--print-election-rbac` print, the kustomize base is the
chart rendered with its default values, the production overlay the chart rendered with its
production values, and both share the chart's CRDs. `make manifests` regenerates them (`make
crds` the CRDs)."""

from __future__ import annotations

import yaml

import manifestgen


def test_chart_rbac_file_is_what_the_operator_prints() -> None:
    expected = manifestgen.rbac_file_text()
    assert manifestgen.RBAC_FILE.read_text() == expected, "stale: run `make manifests`"
    role = yaml.safe_load(expected)
    assert role["kind"] == "ClusterRole"
    assert role["rules"], "the operator prints no rules"


def test_chart_election_role_file_is_what_the_operator_prints() -> None:
    expected = manifestgen.election_rbac_file_text()
    assert manifestgen.ELECTION_RBAC_FILE.read_text() == expected, "stale: run `make manifests`"
    role = yaml.safe_load(expected)
    assert role["kind"] == "Role"
    assert role["rules"], "the operator prints no rules"


def test_kustomize_base_is_the_rendered_chart() -> None:
    assert manifestgen.BASE_MANIFEST.read_text() == manifestgen.base_manifest_text(), (
        "stale: run `make manifests`"
    )


def test_production_overlay_is_the_chart_with_production_values() -> None:
    assert manifestgen.PRODUCTION_MANIFEST.read_text() == manifestgen.production_manifest_text(), (
        "stale: run `make manifests`"
    )


def test_kustomize_base_crds_are_the_charts() -> None:
    assert manifestgen.BASE_CRDS.read_text() == manifestgen.base_crds_text(), (
        "stale: run `make crds`"
    )
