"""`runestone backup --vectorcluster NAME`: request a backup of a VectorCluster.

The backup CronJob runs this on schedule. It sets the VectorCluster's annotation
`runestone.dev/backup` to a new token (the current time); the operator then takes that backup
through the cluster's engine and reports it in `status.lastBackup`. Needs only `patch` on that
one VectorCluster: no database key, no route to the members."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import sys
from collections.abc import Sequence

from runestone_operator.core import kinds, kube, timestamps
from runestone_operator.vectorcluster import names

FIELD_MANAGER = "runestone-backup-schedule"


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="runestone backup", description="Request a backup of a VectorCluster."
    )
    parse.add_argument("--vectorcluster", required=True, help="the VectorCluster's name")
    parse.add_argument(
        "--namespace", "-n", help="its namespace (default: $POD_NAMESPACE, as in a CronJob pod)"
    )
    parse.add_argument("--token", help="the request token (default: the current time)")
    return parse


class RequestError(Exception):
    """Why a backup could not be requested (printed as is)."""


async def request(namespace: str, name: str, token: str) -> None:
    try:
        client = await kube.Kube.connect(FIELD_MANAGER)
    except Exception as error:  # the client library's own kinds: no identity, bad kubeconfig
        raise RequestError(f"no access to the Kubernetes API: {error}") from None
    try:
        # Applying to a missing object would try to create one (and fail on its empty spec).
        kind = kinds.VECTOR_CLUSTER.name
        if await client.get(kinds.API_VERSION, kind, namespace, name) is None:
            raise RequestError(f"VectorCluster {namespace}/{name} does not exist")
        await client.apply(
            {
                "apiVersion": kinds.API_VERSION,
                "kind": kind,
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "annotations": {names.BACKUP_REQUEST: token},
                },
            }
        )
    except kube.ApiError as error:
        raise RequestError(str(error)) from None
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    namespace = args.namespace or os.environ.get("POD_NAMESPACE", "")
    if not namespace:
        print("runestone backup: --namespace or $POD_NAMESPACE is required", file=sys.stderr)
        return 2
    token = args.token or timestamps.render(datetime.datetime.now(datetime.UTC))
    try:
        asyncio.run(request(namespace, args.vectorcluster, token))
    except RequestError as error:
        print(f"runestone backup: {error}", file=sys.stderr)
        return 1
    print(f"requested backup {token} of VectorCluster {namespace}/{args.vectorcluster}")
    return 0
