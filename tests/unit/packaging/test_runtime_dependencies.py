"""The runtime dependencies in pyproject.toml are what the product imports: every third-party
module imported by cli/, gateway/, operator/ or sidecar/ comes from a listed distribution, every
listed distribution is imported there, none pulls in an extra, and each is pinned in
constraints.txt (which the Dockerfile installs with)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[3]
PRODUCT = ("cli", "gateway", "operator", "sidecar")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [Requirement(line) for line in project["dependencies"]]


def imported_modules() -> dict[str, str]:
    """Top-level third-party modules the product imports, each with one file that does."""
    found: dict[str, str] = {}
    for folder in PRODUCT:
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.partition(".")[0]
                    if top in sys.stdlib_module_names or top in ("__future__",):
                        continue
                    if top.startswith("runestone_"):
                        continue
                    found.setdefault(top, str(path.relative_to(REPO)))
    return found


def test_runtime_dependencies_are_what_the_product_imports() -> None:
    providers = importlib.metadata.packages_distributions()
    imported: dict[str, str] = {}
    for module, where in imported_modules().items():
        assert module in providers, (
            f"{module} (imported by {where}) comes from no installed package"
        )
        for distribution in providers[module]:
            imported[normalized(distribution)] = where
    listed = {normalized(requirement.name) for requirement in runtime_requirements()}
    assert sorted(set(imported) - listed) == [], "imported by the product but not listed"
    assert sorted(listed - set(imported)) == [], "listed but not imported by the product"


def test_runtime_dependencies_take_no_extras() -> None:
    with_extras = [str(r) for r in runtime_requirements() if r.extras]
    assert with_extras == [], "an extra pulls in packages the product does not import"


def test_runtime_dependencies_are_pinned() -> None:
    pinned = {
        normalized(line.partition("==")[0])
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    missing = [r.name for r in runtime_requirements() if normalized(r.name) not in pinned]
    assert missing == []
