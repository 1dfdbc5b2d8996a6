"""Persistent volumes for the local control plane: a provisioner and the node side of a claim.

The local control plane has no storage driver, so a StatefulSet's volumeClaimTemplates would
leave its pods Pending forever. `LocalProvisioner` plays an external provisioner for the
StorageClass `STORAGE_CLASS`: for each pending claim of that class it makes a directory and a
hostPath PersistentVolume pre-bound to the claim; the real PV controller then binds the pair,
and when the claim is deleted it removes both again (reclaim policy Delete).

It also plays the volume resizer a CSI driver brings: a bound claim asked for more than its
volume holds gets it (the PersistentVolume's capacity, then the claim's status), as an online
expansion would. `STORAGE_CLASS` allows volume expansion; `FIXED_STORAGE_CLASS`, otherwise the
same, does not, so the API server refuses to grow its claims.

`link_claims` plays the kubelet's volume-mount step for such claims: the pod's volume directory
becomes a link to the PersistentVolume's directory, so the data outlives the pod exactly as a
PVC's data outlives a StatefulSet pod that is deleted and created again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.utils.quantity import parse_quantity

STORAGE_CLASS = "runestone-local"
FIXED_STORAGE_CLASS = "runestone-local-fixed"
EXPANDABLE = {STORAGE_CLASS: True, FIXED_STORAGE_CLASS: False}
"""The classes this provisioner serves, and whether each allows volume expansion."""
PROVISIONER = "devcluster.runestone.dev/local-path"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"

log = logging.getLogger("devcluster.storage")


def ensure_storage_class(api: client.ApiClient) -> None:
    """Create the local StorageClasses, or set whether an existing one allows expansion (the one
    field of a StorageClass that may change)."""
    storage = client.StorageV1Api(api)
    for name, expandable in EXPANDABLE.items():
        body = client.V1StorageClass(
            metadata=client.V1ObjectMeta(name=name),
            provisioner=PROVISIONER,
            reclaim_policy="Delete",
            volume_binding_mode="Immediate",
            allow_volume_expansion=expandable,
        )
        try:
            storage.create_storage_class(body)
        except ApiException as error:
            if error.status != 409:
                raise
            storage.patch_storage_class(name, {"allowVolumeExpansion": expandable})


class LocalProvisioner:
    """Provision and delete hostPath PersistentVolumes for claims of `STORAGE_CLASS`."""

    def __init__(self, api: client.ApiClient, root: Path, period: float = 0.5) -> None:
        self.core = client.CoreV1Api(api)
        self.root = root
        self.period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-provisioner", daemon=True)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync_once()
            except Exception:  # an API blip must not end provisioning for the session
                log.exception("provisioning pass failed")
            self._stop.wait(self.period)

    def sync_once(self) -> None:
        for claim in self.core.list_persistent_volume_claim_for_all_namespaces().items:
            if claim.spec.storage_class_name not in EXPANDABLE:
                continue
            if not claim.spec.volume_name and claim.metadata.deletion_timestamp is None:
                self._provision(claim)
            elif claim.status.phase == "Bound":
                self._resize(claim)
        for volume in self.core.list_persistent_volume().items:
            annotations = volume.metadata.annotations or {}
            if annotations.get(PROVISIONED_BY) == PROVISIONER and volume.status.phase in (
                "Released",
                "Failed",
            ):
                self._delete(volume)

    def _provision(self, claim: Any) -> None:
        name = f"pvc-{claim.metadata.uid}"
        directory = self.root / name
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        requests = claim.spec.resources.requests or {}
        body = client.V1PersistentVolume(
            metadata=client.V1ObjectMeta(name=name, annotations={PROVISIONED_BY: PROVISIONER}),
            spec=client.V1PersistentVolumeSpec(
                capacity={"storage": requests.get("storage", "1Gi")},
                access_modes=list(claim.spec.access_modes or ["ReadWriteOnce"]),
                persistent_volume_reclaim_policy="Delete",
                storage_class_name=claim.spec.storage_class_name,
                volume_mode=claim.spec.volume_mode or "Filesystem",
                host_path=client.V1HostPathVolumeSource(path=str(directory), type="Directory"),
                claim_ref=client.V1ObjectReference(
                    api_version="v1",
                    kind="PersistentVolumeClaim",
                    namespace=claim.metadata.namespace,
                    name=claim.metadata.name,
                    uid=claim.metadata.uid,
                ),
            ),
        )
        try:
            self.core.create_persistent_volume(body)
        except ApiException as error:
            if error.status != 409:
                raise
            return
        log.info("provisioned %s for %s/%s", name, claim.metadata.namespace, claim.metadata.name)

    def _resize(self, claim: Any) -> None:
        """Give a bound claim the size it asks for, if its volume holds less."""
        asked = (claim.spec.resources.requests or {}).get("storage")
        held = (claim.status.capacity or {}).get("storage")
        if asked is None or (held is not None and parse_quantity(held) >= parse_quantity(asked)):
            return
        size = {"storage": asked}
        self.core.patch_persistent_volume(claim.spec.volume_name, {"spec": {"capacity": size}})
        self.core.patch_namespaced_persistent_volume_claim_status(
            claim.metadata.name, claim.metadata.namespace, {"status": {"capacity": size}}
        )
        log.info("grew %s/%s to %s", claim.metadata.namespace, claim.metadata.name, asked)

    def _delete(self, volume: Any) -> None:
        with contextlib.suppress(ApiException):
            self.core.delete_persistent_volume(volume.metadata.name)
        path = volume.spec.host_path.path if volume.spec.host_path else None
        if path and Path(path).parent == self.root:
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def provisioning(api: client.ApiClient, root: Path) -> Iterator[LocalProvisioner]:
    """The StorageClass plus a running provisioner, stopped on exit."""
    ensure_storage_class(api)
    provisioner = LocalProvisioner(api, root)
    provisioner.start()
    try:
        yield provisioner
    finally:
        provisioner.stop()


def claim_directory(core: client.CoreV1Api, namespace: str, claim_name: str) -> Path | None:
    """The host directory behind a bound claim, or None when it is not a bound hostPath volume."""
    claim = core.read_namespaced_persistent_volume_claim(claim_name, namespace)
    if not claim.spec.volume_name:
        return None
    volume = core.read_persistent_volume(claim.spec.volume_name)
    if volume.spec.host_path is None:
        return None
    return Path(volume.spec.host_path.path)


def link_claims(
    core: client.CoreV1Api, pod: Any, pod_directory: Path, uid: int | None, gid: int | None
) -> None:
    """Point the pod's claim-backed volume directories at their PersistentVolumes' directories.

    The directory is handed to the pod's user, as a kubelet does for a volume under fsGroup.
    """
    for volume in pod.spec.volumes or []:
        if volume.persistent_volume_claim is None:
            continue
        target = claim_directory(
            core, pod.metadata.namespace, volume.persistent_volume_claim.claim_name
        )
        if target is None:
            raise LookupError(f"claim {volume.persistent_volume_claim.claim_name} is not bound")
        link = pod_directory / "volumes" / volume.name
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            continue
        link.symlink_to(target, target_is_directory=True)
        if uid is not None:
            os.chown(target, uid, gid if gid is not None else uid)
