"""How fast a change in the workload's health reaches the pod and its Service: target change ->
readiness-gate condition -> pod Ready -> the pod's endpoint in the Service's EndpointSlice,
over many flips, against a real control plane.

    .venv/bin/python bench/sidecar_propagation.py [--flips 20] [--period 1]

Uses KUBECONFIG when set, otherwise the local control plane (started if needed). Prints p50/p99;
asserts nothing. With thresholds of 1, the expected latency is about half a period plus the time
to read and patch the pod; each extra threshold step adds one period.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "devcluster"))

import endpoints
from devcluster.sidecar import benchenv, process, propagation, recorder

SERVICE = "gw"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flips", type=int, default=20)
    parser.add_argument("--period", type=float, default=1.0)
    parser.add_argument("--success-threshold", type=int, default=1)
    parser.add_argument("--failure-threshold", type=int, default=1)
    options = parser.parse_args()
    with benchenv.bench_env("bench-sidecar-propagation") as env:
        endpoints.create_service(env.api, env.namespace, SERVICE, {"app": "sidecar-test"})
        endpoint = endpoints.EndpointRecorder(env.api, env.namespace, SERVICE, env.pod.name)
        sidecar = process.start_sidecar(
            env.pod,
            env.workdir,
            *("--target", "http", "--url", env.target.url, "--period", str(options.period)),
            *("--success-threshold", str(options.success_threshold)),
            *("--failure-threshold", str(options.failure_threshold)),
        )
        pod = recorder.PodRecorder(env.api, env.pod)
        try:
            flips = propagation.run(pod, env.target, options.flips, options.period)
            endpoint_at = [
                endpoint.first_after(flip.changed_at, flip.to_ready, timeout=120) for flip in flips
            ]
        finally:
            pod.close()
            endpoint.close()
            sidecar.stop(signal.SIGTERM)
    print(f"command: {benchenv.command_line()}")
    print(
        f"sidecar: period {options.period}s, success threshold {options.success_threshold}, "
        f"failure threshold {options.failure_threshold}"
    )
    print(propagation.summary(flips))
    for label, values in (
        (
            "target change -> endpoint change",
            [e - f.changed_at for e, f in zip(endpoint_at, flips, strict=True)],
        ),
        (
            "pod Ready change -> endpoint change",
            [e - f.ready_at for e, f in zip(endpoint_at, flips, strict=True)],
        ),
    ):
        print(
            f"  {label:<38} p50 {propagation.percentile(values, 50):.3f}s  "
            f"p99 {propagation.percentile(values, 99):.3f}s  min {min(values):.3f}s  "
            f"max {max(values):.3f}s"
        )


if __name__ == "__main__":
    main()
