"""`runestone operator`: run the operator, or print the manifests it is installed with."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import yaml

from runestone_operator import crdgen
from runestone_operator.core import endpoints, names, operator_rbac, settings

RESYNC_ENV = "RUNESTONE_RESYNC_SECONDS"
NAMESPACE_ENV = "RUNESTONE_WATCH_NAMESPACE"
POD_NAMESPACE_ENV = "POD_NAMESPACE"
POD_ID_ENV = "POD_ID"
"""Kopf's name for this process (the pod's name); the leader-election identity starts with it."""
SERVICE_ACCOUNT_NAMESPACE = Path(names.SERVICE_ACCOUNT_DIR) / "namespace"
DRAIN_INCOMPLETE = 3
"""The exit status when the drain's deadline passed and running reconciles were cancelled."""


def exit_status(drained: bool) -> int:
    """0 for a clean stop; `DRAIN_INCOMPLETE` when the drain cut reconciles off."""
    return 0 if drained else DRAIN_INCOMPLETE


def pod_namespace() -> str | None:
    """The namespace of the pod this process runs in, from its service-account token mount."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or None
    except OSError:
        return None


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
        help="liveness endpoint URL, or 'off'; /metrics is served on the same port "
        "(default: %(default)s)",
    )
    parse.add_argument(
        "--liveness-max-age-seconds",
        type=float,
        help="fail liveness after this long without watch events or resync passes",
    )
    parse.add_argument("--workers", type=int, default=4, help="concurrent reconciles")
    election = parse.add_mutually_exclusive_group()
    election.add_argument(
        "--leader-election-namespace",
        help=f"namespace of the leader-election Lease (default: ${POD_NAMESPACE_ENV}, or the "
        "pod's own namespace in a cluster; without one, no leader election)",
    )
    election.add_argument(
        "--no-leader-election",
        action="store_true",
        help="reconcile without leader election (never run two such operators side by side)",
    )
    parse.add_argument(
        "--leader-election-id",
        default=settings.DEFAULT_LEASE_NAME,
        help="name of the leader-election Lease (default: %(default)s)",
    )
    parse.add_argument(
        "--drain-seconds",
        type=float,
        default=settings.DEFAULT_DRAIN_SECONDS,
        help="on SIGTERM, let running reconciles finish for up to this long (default: "
        "%(default)g; keep it below the pod's termination grace period)",
    )
    parse.add_argument("--verbose", "-v", action="store_true", help="log debug messages")
    printing = parse.add_mutually_exclusive_group()
    printing.add_argument("--print-crds", action="store_true", help="print the CRDs and exit")
    printing.add_argument(
        "--print-rbac", action="store_true", help="print the operator's ClusterRole and exit"
    )
    printing.add_argument(
        "--print-election-rbac",
        action="store_true",
        help="print the Role the operator needs in its own namespace for leader election",
    )
    return parse


def build_settings(
    args: argparse.Namespace,
    env: Mapping[str, str],
    own_namespace: Callable[[], str | None] = pod_namespace,
) -> settings.Settings:
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
    if args.drain_seconds < 0:
        raise ValueError("--drain-seconds must not be negative")
    if args.liveness != "off":
        endpoints.Address.parse(args.liveness)
    lease_namespace = None
    if not args.no_leader_election:
        lease_namespace = (
            args.leader_election_namespace or env.get(POD_NAMESPACE_ENV) or own_namespace()
        )
    who = env.get(POD_ID_ENV) or socket.gethostname()
    return settings.Settings(
        image=env.get(names.IMAGE_ENV) or names.DEFAULT_IMAGE,
        namespaces=namespaces,
        resync_seconds=resync,
        liveness_endpoint=None if args.liveness == "off" else args.liveness,
        liveness_max_age_seconds=args.liveness_max_age_seconds,
        workers=max(1, args.workers),
        lease_namespace=lease_namespace,
        lease_name=args.leader_election_id,
        identity=f"{who}_{uuid.uuid4().hex[:8]}",
        drain_seconds=args.drain_seconds,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.print_crds:
        print(yaml.safe_dump_all(crdgen.definitions(), sort_keys=False), end="")
        return 0
    if args.print_rbac:
        print(yaml.safe_dump(operator_rbac.cluster_role(), sort_keys=False), end="")
        return 0
    if args.print_election_rbac:
        print(yaml.safe_dump(operator_rbac.election_role(), sort_keys=False), end="")
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
    election = (
        f"leader election on lease {config.lease_namespace}/{config.lease_name} "
        f"as {config.identity}"
        if config.lease_namespace
        else "no leader election"
    )
    print(
        f"runestone operator: watching {scope}; resync every {config.resync_seconds:g}s; "
        f"{election}",
        file=sys.stderr,
    )
    return exit_status(asyncio.run(app.run(config)))
