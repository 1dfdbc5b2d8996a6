"""Pinned versions of every Go program the tests and the demo build from source.

Changing a version here makes the next build produce a fresh, separately cached set of binaries.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class GoProgram:
    """A set of binaries built from one pinned Go module."""

    name: str
    module: str
    version: str
    binaries: dict[str, str]  # binary name -> Go package path
    # Modules whose own go.mod points at sibling folders (`replace x => ./staging/...`) cannot be
    # built with `go install pkg@version`; for those we map each such replace to its release.
    staging_version: str | None = None
    extra_requires: dict[str, str] = field(default_factory=dict)
    # Link-time `-X package.variable=value` settings (version strings a program reports).
    stamps: dict[str, str] = field(default_factory=dict)
    # A module of this repository (a folder, from its root) rather than a published one; its
    # version is a digest of its sources, so that an edit builds afresh.
    source: str | None = None

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


KUBERNETES = GoProgram(
    name="kubernetes",
    module="k8s.io/kubernetes",
    version="v1.36.3",
    staging_version="v0.36.3",
    binaries={
        "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
        "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
        "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
        "kubectl": "k8s.io/kubernetes/cmd/kubectl",
    },
)

ETCD = GoProgram(
    name="etcd",
    module="go.etcd.io/etcd/server/v3",
    version="v3.6.16",
    binaries={"etcd": "go.etcd.io/etcd/server/v3"},
)

KWOK = GoProgram(
    name="kwok",
    module="sigs.k8s.io/kwok",
    version="v0.8.0",
    binaries={"kwok": "sigs.k8s.io/kwok/cmd/kwok"},
)

WEAVIATE = GoProgram(
    name="weaviate",
    module="github.com/weaviate/weaviate",
    version="v1.39.3",
    binaries={"weaviate-server": "github.com/weaviate/weaviate/cmd/weaviate-server"},
)

WEAVIATE_PREVIOUS = GoProgram(
    name="weaviate-previous",
    module="github.com/weaviate/weaviate",
    version="v1.39.2",
    binaries={"weaviate-server": "github.com/weaviate/weaviate/cmd/weaviate-server"},
)
"""The release before WEAVIATE, for VectorCluster rolling-upgrade tests."""

HELM = GoProgram(
    name="helm",
    module="helm.sh/helm/v4",
    version="v4.3.1",
    binaries={"helm": "helm.sh/helm/v4/cmd/helm"},
    stamps={"helm.sh/helm/v4/internal/version.version": "v4.3.1"},
)
"""Lints and renders the chart (`helm lint`, `helm template`) for the packaging tests and demo."""

VERSITYGW = GoProgram(
    name="versitygw",
    module="github.com/versity/versitygw",
    version="v1.8.0",
    binaries={"versitygw": "github.com/versity/versitygw/cmd/versitygw"},
)
"""An S3-compatible object store (Versity's S3 gateway, Apache-2.0) for the VectorCluster backup
tests: one process serving a directory, which Weaviate's backup-s3 module writes to and restores
from, checking AWS Signature Version 4. Chosen over SeaweedFS (a distributed filesystem: master,
volume and filer servers behind its S3 gateway) for its build: on two busy cores with an empty Go
compile cache, versitygw compiles in about 2.5 minutes, SeaweedFS took about 17, longer than any
other pinned program, Kubernetes included."""


def source_version(folder: str) -> str:
    """A digest of a repository module's go.mod, go.sum and Go files."""
    digest = hashlib.sha256()
    for path in sorted((REPOSITORY / folder).iterdir()):
        if path.suffix == ".go" or path.name in ("go.mod", "go.sum"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return "src-" + digest.hexdigest()[:16]


WEAVIATE_START_SOURCE = "operator/weaviate-start"
WEAVIATE_START = GoProgram(
    name="weaviate-start",
    module="runestone.dev/weaviate-start",
    version=source_version(WEAVIATE_START_SOURCE),
    binaries={"runestone-weaviate-start": "."},
    source=WEAVIATE_START_SOURCE,
)
"""Runestone's own start program for Weaviate members (see its main.go), which the runestone
image carries and member pods run before Weaviate."""

CONTROL_PLANE: tuple[GoProgram, ...] = (ETCD, KUBERNETES, KWOK)

PROGRAMS: dict[str, GoProgram] = {
    program.name: program
    for program in (*CONTROL_PLANE, WEAVIATE, WEAVIATE_PREVIOUS, WEAVIATE_START, HELM, VERSITYGW)
}
