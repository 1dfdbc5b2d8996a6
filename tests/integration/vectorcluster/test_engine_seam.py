"""The engine seam: the VectorCluster reconcile, run against the real control plane, drives an
engine that is not Weaviate (tests/integration/vectorcluster/memory_engine.py) through every
path: create, scale up, a scale-down its membership refuses, one the shards refuse and then
allow, a rolling upgrade one member at a time, key rotation, a backup that succeeds and one the
engine refuses, a restore into a new cluster that runs once, a backup not found, then still being
taken, a restore that fails and one the engine refuses, and the status each of these writes.

The session's operator is stopped for this test (its registry knows only Weaviate); the test
runs the reconcile itself, as the work queue would, and plays the members' sidecars."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config

from devcluster import kube as devcluster_kube
from devcluster import operator_process, storage
from integration.vectorcluster import memory_engine
from runestone_operator.core import kube, names, settings
from runestone_operator.gateway import linking
from runestone_operator.vectorcluster import engine, reconcile
from runestone_operator.vectorcluster import names as vector_names

NAME = "seam"
GATE = vector_names.MEMBER_READY_GATE
GROUP, VERSION, PLURAL = "runestone.dev", "v1alpha1", "vectorclusters"
SETTINGS = settings.Settings(image="example.invalid/runestone:seam")


@pytest.fixture
def without_session_operator(operator: operator_process.OperatorProcess) -> Iterator[None]:
    """The session's operator would reconcile the VectorCluster with the Weaviate engine."""
    operator.stop()
    try:
        yield
    finally:
        operator.start()


@pytest.fixture
async def async_kube(kube_cluster: devcluster_kube.Cluster) -> AsyncIterator[kube.Kube]:
    configuration = k8s.Configuration()
    await k8s_config.load_kube_config(
        config_file=str(kube_cluster.kubeconfig), client_configuration=configuration
    )
    connection = kube.Kube(k8s.ApiClient(configuration=configuration), names.FIELD_MANAGER)
    try:
        yield connection
    finally:
        await connection.close()


@dataclass
class Driver:
    """The work queue and the members' sidecars, for one VectorCluster."""

    kube: kube.Kube
    api: client.ApiClient
    namespace: str
    engine: memory_engine.MemoryEngine = field(default_factory=memory_engine.MemoryEngine)
    name: str = NAME
    most_unready: int = 0
    """The most wanted members seen not ready (or missing) at once, while a rollout ran."""
    original: dict[str, str] = field(default_factory=dict)
    """Member name -> pod uid before a rollout."""
    restarted: list[str] = field(default_factory=list)
    """The members of `original` in the order they were seen going (deleting or replaced)."""

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    def cluster(self) -> dict[str, Any]:
        found: dict[str, Any] = client.CustomObjectsApi(self.api).get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, self.name
        )
        return found

    def patch(self, body: dict[str, Any]) -> None:
        client.CustomObjectsApi(self.api).patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, self.name, body
        )

    def condition(self, kind: str) -> dict[str, Any]:
        for found in self.cluster().get("status", {}).get("conditions") or []:
            if found["type"] == kind:
                return dict(found)
        return {}

    def statefulset(self) -> Any:
        return client.AppsV1Api(self.api).read_namespaced_stateful_set(self.name, self.namespace)

    def pods(self) -> list[Any]:
        selector = vector_names.label_selector(self.name)
        found = self.core.list_namespaced_pod(self.namespace, label_selector=selector).items
        return sorted(found, key=lambda pod: pod.metadata.name)

    def _sidecars(self) -> None:
        """Each running member's sidecar reports it serving; the engine knows its members."""
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        members = []
        for pod in self.pods():
            if pod.metadata.deletion_timestamp:
                continue
            members.append(pod.metadata.name)
            states = {c.type: c.status for c in pod.status.conditions or []}
            if states.get("ContainersReady") == "True" and states.get(GATE) != "True":
                condition = {
                    "type": GATE,
                    "status": "True",
                    "reason": "TargetReady",
                    "message": "the memory engine serves",
                    "lastTransitionTime": now,
                }
                self.core.patch_namespaced_pod_status(
                    pod.metadata.name, self.namespace, {"status": {"conditions": [condition]}}
                )
        self.engine.members = members

    def _watch_rollout(self) -> None:
        """How many wanted members are not ready now, and which ones have gone since."""
        wanted = int(self.statefulset().spec.replicas)
        ready = set()
        pods = self.pods()
        for pod in pods:
            states = {c.type: c.status for c in pod.status.conditions or []}
            if not pod.metadata.deletion_timestamp and states.get(GATE) == "True":
                ready.add(pod.metadata.name)
        unready = sum(1 for i in range(wanted) if f"{self.name}-{i}" not in ready)
        self.most_unready = max(self.most_unready, unready)
        # Event timestamps have whole seconds, too coarse to order restarts a second apart.
        current = {pod.metadata.name: pod for pod in pods}
        for name, uid in self.original.items():
            pod = current.get(name)
            gone = pod is None or pod.metadata.uid != uid or pod.metadata.deletion_timestamp
            if gone and name not in self.restarted:
                self.restarted.append(name)

    async def step(self) -> None:
        await reconcile.reconcile(
            self.kube,
            SETTINGS,
            self.namespace,
            self.name,
            datetime.datetime.now(datetime.UTC),
            read_links=linking.read,
            registry={"weaviate": self.engine},
        )
        self._sidecars()

    async def until(
        self, done: Callable[[], bool], what: str, within: float = 120, rollout: bool = False
    ) -> None:
        deadline = time.monotonic() + within
        while True:
            await self.step()
            if rollout:
                self._watch_rollout()
            if done():
                return
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.cluster()}"
            await asyncio.sleep(0.5)

    def is_(self, kind: str, status: str, reason: str | None = None) -> bool:
        found = self.condition(kind)
        return found.get("status") == status and reason in (None, found.get("reason"))

    def events(self, reason: str, kind: str | None = None) -> list[str]:
        """The messages of this cluster's Events of `reason` (and type `kind`), oldest first."""
        listed = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={self.name},reason={reason}"
        ).items
        listed.sort(key=lambda e: str(e.first_timestamp or e.metadata.creation_timestamp))
        return [str(e.message) for e in listed if kind in (None, e.type)]

    def create(self, spec: dict[str, Any]) -> None:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "VectorCluster"}
        client.CustomObjectsApi(self.api).create_namespaced_custom_object(
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            {**body, "metadata": {"name": self.name}, "spec": spec},
        )


def _spec() -> dict[str, Any]:
    return {
        "engine": "weaviate",  # the CRD's only engine; the test's registry maps it to its own
        "version": "1.0.0",
        "replicas": 3,
        "storage": {"size": "1Gi", "storageClassName": storage.STORAGE_CLASS},
        "apiKeys": [{"name": "app", "role": "admin"}, {"name": "reader"}],
        "keyRotation": {"gracePeriod": "1h"},
        "tls": {"mode": "selfSigned"},
        "backup": {
            "schedule": "0 3 * * *",
            "backend": "s3",
            "s3": {"bucket": "backups", "credentialsSecretRef": {"name": "s3-creds"}},
        },
    }


@pytest.mark.timeout(900)
async def test_the_reconcile_drives_an_engine_that_is_not_weaviate_through_every_path(
    kube_api: client.ApiClient,
    namespace: str,
    local_storage: Path,
    without_session_operator: None,
    async_kube: kube.Kube,
) -> None:
    run = Driver(async_kube, kube_api, namespace)
    credentials = {key: "stand-in" for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    run.core.create_namespaced_secret(
        namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="s3-creds"), string_data=credentials),
    )
    run.create(_spec())

    # -- create: the engine's pieces in the kind's children -------------------------------------
    await run.until(lambda: run.is_("Ready", "True"), "three ready members")
    status = run.cluster()["status"]
    assert status["readyReplicas"] == 3
    assert [m["pod"] for m in status["members"]] == ["seam-0", "seam-1", "seam-2"]
    assert [k["name"] for k in status["apiKeys"]] == ["app", "reader"]
    sts = run.statefulset()
    assert sts.metadata.labels["app.kubernetes.io/component"] == "memory"
    template = sts.spec.template.spec
    assert [c.name for c in template.containers] == ["db", "sidecar"]
    assert template.termination_grace_period_seconds == 1
    sidecar = template.containers[1]
    assert sidecar.args[sidecar.args.index("--target") + 1] == "member"
    assert sidecar.args[sidecar.args.index("--engine") + 1] == "memory"
    keys = run.core.read_namespaced_secret("seam-memory-auth", namespace)
    listed = base64.b64decode(keys.data["KEYS"]).decode().split(",")
    assert [entry.split(":")[:2] for entry in listed] == [
        ["app", "admin"],
        ["reader", "viewer"],
        ["runestone_operator", "admin"],
        ["runestone_probe", "viewer"],
    ]
    assert "rsk_" not in str(keys.data)
    policy = client.NetworkingV1Api(kube_api).read_namespaced_network_policy(
        "seam-members", namespace
    )
    assert [p.port for p in policy.spec.ingress[0].ports] == [memory_engine.PEER_PORT]
    service = run.core.read_namespaced_service(NAME, namespace)
    assert {p.name: p.port for p in service.spec.ports} == {"https": 443, "metrics": 9200}
    # The operator asked a member (with its own key, over TLS with the cluster's CA) for the
    # topology, which the status reports per member.
    asked = [c for c in run.engine.calls if c.what == "topology"][-1].endpoint
    assert asked.base_url.startswith("https://")
    assert asked.base_url.endswith(f":{memory_engine.TLS_PORT}")
    assert asked.server_hostname == f"{NAME}.{namespace}.svc"
    assert "BEGIN CERTIFICATE" in (asked.ca_pem or "")
    operator_key = run.core.read_namespaced_secret("seam-operator-key", namespace).data["api-key"]
    assert asked.api_key == base64.b64decode(operator_key).decode()
    run.engine.shards = {("Doc", "a"): frozenset({"seam-0", "seam-1", "seam-2"})}
    await run.until(
        lambda: [m.get("shards") for m in run.cluster()["status"]["members"]] == [1, 1, 1],
        "the shard counts in status.members",
    )

    # -- scale up (the CRD admits 1, 3, 5 or more members) ---------------------------------------
    run.patch({"spec": {"replicas": 5}})
    await run.until(
        lambda: run.is_("Ready", "True") and run.cluster()["status"]["readyReplicas"] == 5,
        "five members",
    )
    assert run.statefulset().spec.replicas == 5

    # -- a scale-down the engine's membership refuses, whatever the shards ------------------------
    run.patch({"spec": {"replicas": 1}})
    await run.until(lambda: run.is_("Degraded", "True", "ScaleDownRefused"), "the refusal")
    assert "keeps at least 2 members (asked for 1)" in run.condition("Degraded")["message"]
    assert run.statefulset().spec.replicas == 5

    # -- a scale-down that would strand a shard waits until the shard has moved -------------------
    run.engine.shards[("Doc", "b")] = frozenset({"seam-3", "seam-4"})
    run.patch({"spec": {"replicas": 3}})
    await run.until(
        lambda: "Doc/b (only on seam-3, seam-4)" in run.condition("Degraded").get("message", ""),
        "the shard named in the refusal",
    )
    assert run.statefulset().spec.replicas == 5
    run.engine.shards[("Doc", "b")] = frozenset({"seam-0", "seam-4"})
    await run.until(
        lambda: run.is_("Degraded", "False") and run.statefulset().spec.replicas == 3,
        "the scale-down once the shard has a replica elsewhere",
    )
    await run.until(lambda: len(run.pods()) == 3 and run.is_("Ready", "True"), "three members")

    # -- rolling upgrade: one member at a time, highest ordinal first -----------------------------
    before = {pod.metadata.name: pod.metadata.uid for pod in run.pods()}
    run.original = dict(before)
    run.patch({"spec": {"version": "1.1.0"}})
    await run.until(
        lambda: run.is_("Progressing", "True", "RollingOut"), "the rollout to start", rollout=True
    )
    await run.until(
        lambda: run.is_("Progressing", "False") and run.is_("Ready", "True"),
        "the rollout to finish",
        within=300,
        rollout=True,
    )
    after = {pod.metadata.name: pod.metadata.uid for pod in run.pods()}
    assert set(after) == set(before)
    assert all(after[pod] != uid for pod, uid in before.items())
    assert {c.image for pod in run.pods() for c in pod.spec.containers if c.name == "db"} == {
        "example.invalid/memory-engine:1.1.0"
    }
    assert run.restarted == ["seam-2", "seam-1", "seam-0"]
    assert sorted(m.split()[2] for m in run.events("MemberRestarted")) == sorted(before)
    # One at a time: a member replaced within one step may never be seen missing.
    assert run.most_unready <= 1

    # -- key rotation: the engine keeps the old key's hash through the grace period ---------------
    old_app = base64.b64decode(
        run.core.read_namespaced_secret("seam-key-app", namespace).data["api-key"]
    ).decode()
    run.patch({"metadata": {"annotations": {"rotate-key.runestone.dev/app": "r1"}}})
    await run.until(
        lambda: bool(run.cluster()["status"]["apiKeys"][0].get("previousKeyExpiresAt")),
        "the rotation in status",
    )
    digest = hashlib.sha256(old_app.encode()).hexdigest()
    keys = run.core.read_namespaced_secret("seam-memory-auth", namespace)
    assert f"app:admin:{digest}" in base64.b64decode(keys.data["KEYS"]).decode()
    assert run.events("KeyRotated")

    # -- backups: one the engine takes, one it refuses --------------------------------------------
    run.patch({"metadata": {"annotations": {"runestone.dev/backup": "first"}}})
    await run.until(
        lambda: run.is_("Progressing", "True", "BackupInProgress"), "the backup to start"
    )
    (started,) = [c for c in run.engine.calls if c.what == "start_backup"]
    assert started.args[0] == "s3"
    backup_id = started.args[1]
    assert started.endpoint.api_key == asked.api_key
    run.engine.backups[backup_id] = engine.BackupProgress("Succeeded")
    await run.until(
        lambda: run.cluster()["status"].get("lastBackup", {}).get("result") == "Succeeded",
        "the backup recorded",
    )
    assert run.cluster()["status"]["lastBackup"]["id"] == backup_id
    assert run.is_("Progressing", "False")
    run.engine.refuse_backups = True
    run.patch({"metadata": {"annotations": {"runestone.dev/backup": "second"}}})
    await run.until(
        lambda: run.cluster()["status"]["lastBackup"]["result"] == "Failed",
        "the refused backup recorded as failed",
    )
    assert any("nothing to back up" in m for m in run.events("BackupFailed"))
    assert run.is_("Ready", "True")

    # -- restore: a new cluster filled from that backup once, each member from its namesake -------
    restored = Driver(async_kube, kube_api, namespace, run.engine, name=f"{NAME}-restored")
    restored.create({**_spec(), "restore": {"backupId": backup_id, "sourceCluster": NAME}})
    await restored.until(
        lambda: restored.is_("Progressing", "True", "RestoreInProgress"), "the restore to start"
    )
    (started,) = [c for c in run.engine.calls if c.what == "start_restore"]
    mapping = ",".join(f"{NAME}-{i}={NAME}-restored-{i}" for i in range(3))
    assert started.args == ("s3", backup_id, mapping)
    assert started.endpoint.base_url.startswith("https://")
    assert restored.cluster()["status"]["restore"]["phase"] == "Running"
    assert restored.is_("Restored", "False", "RestoreInProgress")
    assert restored.is_("Ready", "True")  # the members serve; Restored tells when the data is in
    run.engine.restores[backup_id] = engine.BackupProgress("Succeeded")
    await restored.until(
        lambda: restored.is_("Restored", "True", "RestoreSucceeded"), "the restore recorded"
    )
    record = restored.cluster()["status"]["restore"]
    assert (record["backupId"], record["phase"]) == (backup_id, "Succeeded")
    assert record["startedAt"] <= record["completedAt"]
    assert restored.is_("Progressing", "False")
    assert restored.is_("Degraded", "False")
    assert len(restored.events("RestoreStarted", "Normal")) == 1
    assert len(restored.events("RestoreSucceeded", "Normal")) == 1
    # It ran once: later reconciles, a rolling restart among them, ask the engine nothing more.
    restore_calls = [c for c in run.engine.calls if c.what in ("restore", "start_restore")]
    restored.patch({"metadata": {"annotations": {"runestone.dev/restart": "after-restore"}}})
    await restored.until(
        lambda: restored.is_("Progressing", "False") and restored.is_("Ready", "True"),
        "the restart after the restore",
        within=300,
    )
    assert [c for c in run.engine.calls if c.what in ("restore", "start_restore")] == restore_calls
    assert restored.cluster()["status"]["restore"] == record

    # -- a backup the bucket does not hold: Degraded until it arrives; a failed restore is final --
    missing = Driver(async_kube, kube_api, namespace, run.engine, name=f"{NAME}-missing")
    missing.create({**_spec(), "replicas": 1, "restore": {"backupId": "nowhere"}})
    await missing.until(
        lambda: missing.is_("Degraded", "True", "BackupNotFound"), "the missing backup reported"
    )
    assert "backup nowhere is not in the s3 backend" in missing.condition("Degraded")["message"]
    assert missing.is_("Restored", "False", "BackupNotFound")
    assert missing.cluster()["status"]["restore"]["phase"] == "Pending"
    (warning,) = missing.events("BackupNotFound", "Warning")
    assert "backup nowhere" in warning
    assert not [c for c in run.engine.calls if c.args[1:2] == ("nowhere",) and "start" in c.what]
    run.engine.backups["nowhere"] = engine.BackupProgress("Running")
    await missing.until(
        lambda: missing.is_("Progressing", "True", "RestorePending"), "the backup awaited"
    )
    assert "backup nowhere is still being taken" in missing.condition("Progressing")["message"]
    assert missing.is_("Degraded", "False")
    run.engine.backups["nowhere"] = engine.BackupProgress("Succeeded")
    await missing.until(
        lambda: missing.is_("Restored", "False", "RestoreInProgress"), "the late backup restored"
    )
    (started,) = [c for c in run.engine.calls if c.what == "start_restore" and "nowhere" in c.args]
    assert started.args[2] == f"{NAME}-missing-0={NAME}-missing-0"
    run.engine.restores["nowhere"] = engine.BackupProgress("Failed", "class Doc already exists")
    await missing.until(
        lambda: missing.is_("Degraded", "True", "RestoreFailed"), "the failed restore reported"
    )
    assert "class Doc already exists" in missing.condition("Degraded")["message"]
    assert missing.cluster()["status"]["restore"]["phase"] == "Failed"
    assert any("class Doc already exists" in m for m in missing.events("RestoreFailed", "Warning"))
    run.engine.restores.pop("nowhere")  # were it asked again, it would start afresh
    for _ in range(3):
        await missing.step()
    assert missing.cluster()["status"]["restore"]["phase"] == "Failed"
    assert len([c for c in run.engine.calls if c.what == "start_restore"]) == 2

    # -- a restore the engine refuses outright: final at once, the engine asked once --------------
    refused = Driver(async_kube, kube_api, namespace, run.engine, name=f"{NAME}-refused")
    run.engine.refuse_restores = True
    refused.create({**_spec(), "replicas": 1, "restore": {"backupId": backup_id}})
    await refused.until(
        lambda: refused.is_("Degraded", "True", "RestoreFailed"), "the refusal reported"
    )
    assert "collection Doc exists already" in refused.condition("Degraded")["message"]
    for _ in range(3):
        await refused.step()
    assert refused.cluster()["status"]["restore"]["phase"] == "Failed"
    assert len([c for c in run.engine.calls if c.what == "start_restore"]) == 3
