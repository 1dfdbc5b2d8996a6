"""The sidecar's settings: command-line options plus the pod identity from the downward API."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from runestone_sidecar import conditions

TARGETS = ("gateway", "member", "http", "grpc")
"""`member`: a VectorCluster member, probed by its engine's module in `probes/engines`."""


class SettingsError(Exception):
    """The command line or the environment cannot describe a working sidecar."""


@dataclass(frozen=True)
class Settings:
    target: str
    url: str
    condition: str
    pod_name: str
    namespace: str
    period: float = 5.0
    timeout: float = 3.0
    success_threshold: int = 1
    failure_threshold: int = 3
    host: str = "0.0.0.0"
    port: int = 8082
    grpc_port: int = 8083
    grpc_service: str = ""
    engine: str = ""
    node_name: str = ""
    api_key_file: Path | None = None
    resync_period: float = 60.0
    backoff_cap: float = 15.0
    termination_timeout: float = 10.0

    @property
    def label(self) -> str:
        """What the probe metrics call the target: the engine, for a member."""
        return self.engine if self.target == "member" else self.target


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="runestone sidecar",
        description="Probe this pod's workload and report it into the pod's readiness gate.",
    )
    p.add_argument("--target", required=True, choices=TARGETS, help="what kind of workload")
    p.add_argument(
        "--url",
        required=True,
        help="gateway: its health URL (/readyz is added to a bare host:port URL); "
        "member: the engine's base URL; http: the URL to GET; grpc: host:port",
    )
    p.add_argument("--condition", required=True, help="readiness-gate condition type to set")
    p.add_argument("--period", type=float, default=5.0, help="seconds between probes (5)")
    p.add_argument("--timeout", type=float, default=None, help="probe timeout (min(3, period))")
    p.add_argument("--success-threshold", type=int, default=1, help="successes to turn True (1)")
    p.add_argument("--failure-threshold", type=int, default=3, help="failures to turn False (3)")
    p.add_argument("--host", default="0.0.0.0", help="address for /healthz, /metrics and gRPC")
    p.add_argument("--port", type=int, default=8082, help="/healthz and /metrics port (8082)")
    p.add_argument("--grpc-port", type=int, default=8083, help="grpc.health.v1 port (8083)")
    p.add_argument("--grpc-service", default="", help="grpc target: service name to Check")
    p.add_argument("--engine", default="", help="member: the engine, e.g. weaviate")
    p.add_argument("--node-name", default=None, help="member: this member's name (POD_NAME)")
    p.add_argument("--api-key-file", type=Path, default=None, help="member: API key file")
    p.add_argument("--resync-period", type=float, default=60.0, help="re-read and repair (60)")
    p.add_argument("--backoff-cap", type=float, default=15.0, help="max API retry delay (15)")
    p.add_argument(
        "--termination-timeout",
        type=float,
        default=10.0,
        help="on SIGTERM, how long to keep trying to set the condition False (10)",
    )
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    return p


def from_args(args: argparse.Namespace, env: Mapping[str, str]) -> Settings:
    pod_name = env.get("POD_NAME", "")
    namespace = env.get("POD_NAMESPACE", "")
    if not pod_name or not namespace:
        raise SettingsError(
            "POD_NAME and POD_NAMESPACE must be set (downward API: metadata.name, "
            "metadata.namespace)"
        )
    if not args.condition.startswith(conditions.GATE_PREFIX):
        raise SettingsError(
            f"--condition {args.condition!r}: the sidecar sets only {conditions.GATE_PREFIX}* "
            "conditions (the admission policy refuses any other)"
        )
    if (args.target == "member") != bool(args.engine):
        raise SettingsError("--engine is required with --target member, and only with it")
    if args.period <= 0:
        raise SettingsError("--period must be positive")
    if args.success_threshold < 1 or args.failure_threshold < 1:
        raise SettingsError("thresholds must be at least 1")
    timeout = args.timeout if args.timeout is not None else min(3.0, args.period)
    if timeout <= 0:
        raise SettingsError("--timeout must be positive")
    return Settings(
        target=args.target,
        url=args.url,
        condition=args.condition,
        pod_name=pod_name,
        namespace=namespace,
        period=args.period,
        timeout=timeout,
        success_threshold=args.success_threshold,
        failure_threshold=args.failure_threshold,
        host=args.host,
        port=args.port,
        grpc_port=args.grpc_port,
        grpc_service=args.grpc_service,
        engine=args.engine,
        node_name=args.node_name or pod_name,
        api_key_file=args.api_key_file,
        resync_period=args.resync_period,
        backoff_cap=args.backoff_cap,
        termination_timeout=args.termination_timeout,
    )


def parse(argv: Sequence[str], env: Mapping[str, str]) -> tuple[Settings, str]:
    """Settings and the log level; argparse exits on a malformed command line."""
    args = parser().parse_args(list(argv))
    return from_args(args, env), str(args.log_level).upper()
