"""`runestone operator`: run the operator, or print the manifests it is installed with."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping, Sequence

import yaml

from runestone_operator import crdgen
from runestone_operator.core import names, operator_rbac, settings

RESYNC_ENV = "RUNESTONE_RESYNC_SECONDS"
NAMESPACE_ENV = "RUNESTONE_WATCH_NAMESPACE"


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="runestone operator",
        description="Reconcile Gateways, ProviderPools and VectorClusters.",
    )
    scope = parse.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        help="watch this namespace (repeatable; default: $RUNESTONE_WATCH_NAMESPACE or all)",
    )
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="watch every namespace")
    parse.add_argument(
        "--resync-seconds",
        type=float,
        help=f"reconcile everything at least this often (default: ${RESYNC_ENV} or "
        f"{settings.DEFAULT_RESYNC_SECONDS:g})",
    )
    parse.add_argument(
        "--liveness",
        default=settings.DEFAULT_LIVENESS_ENDPOINT,
        help="liveness endpoint URL, or 'off' (default: %(default)s)",
    )
    parse.add_argument(
        "--liveness-max-age-seconds",
        type=float,
        help="fail liveness after this long without watch events or resync passes",
    )
    parse.add_argument("--workers", type=int, default=4, help="concurrent reconciles")
    parse.add_argument("--verbose", "-v", action="store_true", help="log debug messages")
    printing = parse.add_mutually_exclusive_group()
    printing.add_argument("--print-crds", action="store_true", help="print the CRDs and exit")
    printing.add_argument(
        "--print-rbac", action="store_true", help="print the operator's ClusterRole and exit"
    )
    return parse


def build_settings(args: argparse.Namespace, env: Mapping[str, str]) -> settings.Settings:
    namespaces: tuple[str, ...] = ()
    if args.namespace:
        namespaces = tuple(args.namespace)
    elif not args.all_namespaces and env.get(NAMESPACE_ENV):
        namespaces = (env[NAMESPACE_ENV],)
    resync = args.resync_seconds
    if resync is None:
        resync = float(env.get(RESYNC_ENV) or settings.DEFAULT_RESYNC_SECONDS)
    if resync <= 0:
        raise ValueError("--resync-seconds must be positive")
    return settings.Settings(
        image=env.get(names.IMAGE_ENV) or names.DEFAULT_IMAGE,
        namespaces=namespaces,
        resync_seconds=resync,
        liveness_endpoint=None if args.liveness == "off" else args.liveness,
        liveness_max_age_seconds=args.liveness_max_age_seconds,
        workers=max(1, args.workers),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.print_crds:
        print(yaml.safe_dump_all(crdgen.definitions(), sort_keys=False), end="")
        return 0
    if args.print_rbac:
        print(yaml.safe_dump(operator_rbac.cluster_role(), sort_keys=False), end="")
        return 0
    try:
        config = build_settings(args, os.environ)
    except ValueError as error:
        print(f"runestone operator: {error}", file=sys.stderr)
        return 2
    import kopf

    from runestone_operator import app

    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat.PLAIN)
    if not args.verbose:
        # Every watch event would otherwise log "Handler ... succeeded".
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    scope = ", ".join(config.namespaces) or "all namespaces"
    print(
        f"runestone operator: watching {scope}; resync every {config.resync_seconds:g}s",
        file=sys.stderr,
    )
    asyncio.run(app.run(config))
    return 0
