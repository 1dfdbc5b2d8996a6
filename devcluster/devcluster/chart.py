"""The Helm chart and the kustomize manifests, rendered with the pinned helm and kubectl builds
(the demo installs the chart with them; hack/manifestgen.py generates the shipped manifests)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from devcluster import gobuild, versions

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "runestone"
PRODUCTION_VALUES = CHART / "values-production.yaml"
DEPLOY = REPO / "deploy"
EXAMPLES = DEPLOY / "examples"
RELEASE = "runestone"
NAMESPACE = "runestone-system"


def helm_binary() -> Path:
    return gobuild.ensure([versions.HELM.name])["helm"]


def kubectl_binary() -> Path:
    return gobuild.ensure([versions.KUBERNETES.name])["kubectl"]


def run(
    command: Sequence[str | Path],
    kubeconfig: Path | None = None,
    input_text: str | None = None,
    check: bool = True,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run a command, its output captured; a failure raises with the command's stderr."""
    env = dict(os.environ)
    # helm keeps caches and repository settings under $HOME; keep them out of the user's.
    env.setdefault("HELM_CACHE_HOME", str(gobuild.cache_root() / "helm" / "cache"))
    env.setdefault("HELM_CONFIG_HOME", str(gobuild.cache_root() / "helm" / "config"))
    env.setdefault("HELM_DATA_HOME", str(gobuild.cache_root() / "helm" / "data"))
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    done = subprocess.run(
        [str(part) for part in command],
        input=input_text,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if check and done.returncode != 0:
        shown = " ".join(str(part) for part in command)
        raise RuntimeError(f"{shown} exited with {done.returncode}:\n{done.stderr}{done.stdout}")
    return done


def value_args(
    values_files: Sequence[Path] = (), set_values: Mapping[str, str] | None = None
) -> list[str]:
    args: list[str] = []
    for path in values_files:
        args += ["--values", str(path)]
    for key, value in (set_values or {}).items():
        args += ["--set", f"{key}={value}"]
    return args


def template(
    values_files: Sequence[Path] = (),
    set_values: Mapping[str, str] | None = None,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    include_crds: bool = False,
) -> str:
    """`helm template` of the chart: the manifests a `helm install` would apply."""
    command: list[str | Path] = [helm_binary(), "template", release, CHART, "-n", namespace]
    command.extend(value_args(values_files, set_values))
    if include_crds:
        command.append("--include-crds")
    return run(command).stdout


def lint(values_files: Sequence[Path] = ()) -> subprocess.CompletedProcess[str]:
    """`helm lint --strict` of the chart (not raising: the caller judges the output)."""
    command: list[str | Path] = [helm_binary(), "lint", "--strict", CHART]
    command.extend(value_args(values_files))
    return run(command, check=False)


def kustomize(directory: Path) -> str:
    """`kubectl kustomize` of a kustomization folder."""
    return run([kubectl_binary(), "kustomize", directory]).stdout
