from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from kubernetes import config

from devcluster import cluster, gobuild, layout, versions
from devcluster import weaviate as weaviate_runner
from devcluster.kubelet import containers, network, runner, services
from runestone_operator.vectorcluster.engines.weaviate import members as weaviate_members


def _program_folders() -> tuple[str, ...]:
    """The interpreter, the venv, the checkout (editable install) and the built Go programs'
    cache, without folders nested in another one."""
    folders = {sys.base_prefix, sys.prefix, str(cluster.REPO), str(gobuild.cache_root() / "go")}
    ordered = sorted(os.path.realpath(f) for f in folders if os.path.isdir(f))
    return tuple(f for f in ordered if not any(f.startswith(o + "/") for o in ordered if o != f))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devcluster.kubelet")
    parser.add_argument("--kubeconfig", default=str(layout.kubeconfig_path()))
    parser.add_argument("--workdir", default=str(layout.cluster_dir() / "kubelet"))
    parser.add_argument("--period", type=float, default=0.5)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )

    api = config.new_client_from_config(config_file=args.kubeconfig)
    ports = cluster.current_ports()
    kwok_range, process_network = layout.networks(ports)
    local = [kwok_range, process_network, layout.service_network(ports)]
    network.add_to_loopback(local)
    weaviate = None
    image_files: dict[str, str] = {}
    if gobuild.is_built(versions.WEAVIATE):
        weaviate = str(gobuild.binary(versions.WEAVIATE, "weaviate-server"))
        # What the member pods' init container copies out of the runestone image.
        start = weaviate_runner.start_program()
        carried = f"{weaviate_members.IMAGE_BIN_DIR}/{weaviate_members.START_PROGRAM}"
        image_files[carried] = str(start)
    programs = containers.Programs(
        runestone=str(Path(sys.executable).with_name("runestone")),
        python=sys.executable,
        weaviate=weaviate,
        adapters={
            "runestone": containers.runestone_adapter,
            "weaviate": weaviate_runner.kubelet_adapter(api, Path(args.workdir)),
        },
        keep_visible=_program_folders(),
        image_files=image_files,
    )
    kubelet = runner.ProcessKubelet(
        api,
        Path(args.workdir),
        programs,
        api.configuration.host,
        network.Addresses(process_network),
        services.Services(api, Path(args.workdir)),
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        kubelet.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        kubelet.run(args.period)
    finally:
        if kubelet.services is not None:
            kubelet.services.close()
        network.remove_from_loopback(local)
    return 0


if __name__ == "__main__":
    sys.exit(main())
