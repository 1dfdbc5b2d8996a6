"""Dispatch `runestone <role> ...` to the role's own command-line module.

Roles are imported lazily so that, for example, the sidecar never loads the operator's code.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

ROLES: dict[str, tuple[str, str]] = {
    "operator": ("runestone_operator.cli", "reconcile Gateways, ProviderPools and VectorClusters"),
    "gateway": ("runestone_gateway.process.cli", "serve the OpenAI-compatible LLM gateway"),
    "sidecar": ("runestone_sidecar.cli", "probe a workload and report it into a readiness gate"),
    "backup": ("runestone_operator.backupcli", "request a backup of a VectorCluster"),
}

USAGE = (
    "usage: runestone {"
    + ",".join(ROLES)
    + "} [options]\n\n"
    + "\n".join(f"  {role:<9} {summary}" for role, (_, summary) in ROLES.items())
)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    role, rest = args[0], args[1:]
    if role not in ROLES:
        print(f"runestone: unknown role {role!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    module = importlib.import_module(ROLES[role][0])
    result: int = module.main(rest)
    return result


if __name__ == "__main__":
    sys.exit(main())
