"""Backups of a three-member, replication-factor-3 cluster to a real S3 store (Versity's S3
gateway), on demand and on schedule, restored into a new cluster through `spec.restore`: the same
object count and the same nearest neighbours before and after, read through every member. The
restore runs once; a restore of a backup the bucket does not hold is Degraded (`BackupNotFound`)
with a Warning Event. The store's keys reach the members only from a Secret, and a Secret without
them is Degraded (`MissingSecret`) before any member starts."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from devcluster import operator_process, s3
from devcluster import weaviate as wv
from devcluster.kube import eventually
from integration.vectorcluster import vectorclusters
from integration.vectorcluster.vectorclusters import COLLECTION, Clusters

SOURCE, RESTORED, MISSING = "src", "copy", "gone"
SECRET = "s3-credentials"
MEMBERS = 3
FIRST, MORE = 150, 50
DIMENSIONS = 16
QUERIES = 8
TOP_K = 10


def _backup(server: s3.S3Server, secret: str = SECRET) -> dict[str, Any]:
    return {
        "schedule": "0 3 * * *",
        "backend": "s3",
        "s3": {
            "bucket": "backups",
            "endpoint": server.endpoint,
            "region": s3.REGION,
            "credentialsSecretRef": {"name": secret},
        },
    }


def _secret(
    clusters: Clusters, name: str, credentials: s3.Credentials, *, whole: bool = True
) -> None:
    data = {"AWS_ACCESS_KEY_ID": credentials.access_key}
    if whole:
        data["AWS_SECRET_ACCESS_KEY"] = credentials.secret_key
    body = client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data=data)
    try:
        clusters.core.create_namespaced_secret(clusters.namespace, body)
    except ApiException as error:
        if error.status != 409:
            raise
        clusters.core.replace_namespaced_secret(name, clusters.namespace, body)


def _vectors(count: int, seed: int) -> list[list[float]]:
    """Distinct random vectors: nearest neighbours without ties, so the top k is one answer."""
    rng = random.Random(seed)
    return [[rng.uniform(-1, 1) for _ in range(DIMENSIONS)] for _ in range(count)]


def _objects(vectors: list[list[float]], start: int) -> list[dict[str, Any]]:
    return [
        {"properties": {"title": f"doc {start + i}"}, "vector": vector}
        for i, vector in enumerate(vectors)
    ]


def _last_backup(clusters: Clusters, name: str, other_than: str | None = None) -> dict[str, Any]:
    def finished() -> dict[str, Any]:
        last: dict[str, Any] = clusters.get(name).get("status", {}).get("lastBackup") or {}
        return last if last.get("id") not in (None, other_than) else {}

    return eventually(finished, timeout=300, interval=1, what=f"a new backup of {name}")


def _members(clusters: Clusters, name: str) -> list[wv.Client]:
    key = clusters.key(name, "gateway")
    return [clusters.member(name, f"{name}-{i}", key) for i in range(MEMBERS)]


def _answers(members: list[wv.Client], queries: list[list[float]]) -> list[Any]:
    """What each member says: the object count and the top k ids of every query, once every
    member has indexed what it holds (members index asynchronously)."""
    for member in members:
        vectorclusters.wait_indexed(member)
    return [
        (member.count(COLLECTION), [member.nearest_ids(COLLECTION, q, TOP_K) for q in queries])
        for member in members
    ]


def _events(clusters: Clusters, name: str, reason: str) -> list[Any]:
    return list(
        clusters.core.list_namespaced_event(
            clusters.namespace, field_selector=f"involvedObject.name={name},reason={reason}"
        ).items
    )


def _refused(clusters: Clusters, name: str, body: dict[str, Any]) -> str:
    with pytest.raises(ApiException) as refused:
        clusters.patch(name, body)
    assert refused.value.status == 422
    return str(refused.value.body)


@pytest.mark.timeout(1800)
def test_a_replicated_cluster_backed_up_to_s3_restores_into_a_new_cluster(
    clusters: Clusters,
    s3_server: s3.S3Server,
    operator: operator_process.OperatorProcess,
) -> None:
    credentials = s3_server.credentials
    _secret(clusters, SECRET, credentials)
    backup = _backup(s3_server)
    clusters.create(
        SOURCE, vectorclusters.spec(replicas=MEMBERS, replicationFactor=3, backup=backup)
    )
    clusters.wait_condition(SOURCE, "Ready", "True", timeout=600)

    # The keys come from the Secret alone: in the members' environment only as references.
    pod = clusters.core.read_namespaced_pod(f"{SOURCE}-0", clusters.namespace)
    env = {e.name: e for c in pod.spec.containers if c.name == "weaviate" for e in c.env}
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env[variable].value is None
        assert env[variable].value_from.secret_key_ref.name == SECRET
    assert env["BACKUP_S3_ENDPOINT"].value == s3_server.endpoint.removeprefix("http://")
    assert env["BACKUP_S3_USE_SSL"].value == "false"
    assert credentials.secret_key not in str(clusters.get(SOURCE))

    # A replicated collection, written through one member.
    members = _members(clusters, SOURCE)
    members[0].create_collection(COLLECTION, replication_factor=3)
    vectors = _vectors(FIRST + MORE, seed=20)
    queries = _vectors(QUERIES, seed=21)
    members[0].insert(COLLECTION, _objects(vectors[:FIRST], 0))
    eventually(
        lambda: wv.wait_for(lambda: all(m.count(COLLECTION) == FIRST for m in members)),
        timeout=60,
        interval=1,
        what="every member to count the first objects",
    )

    # On demand: a new value of the annotation is one backup, written to the bucket.
    clusters.annotate(SOURCE, "runestone.dev/backup", "s3-on-demand")
    on_demand = _last_backup(clusters, SOURCE)
    print("on-demand backup:", on_demand)
    assert on_demand["result"] == "Succeeded"
    written = s3_server.keys("backups", prefix=f"{on_demand['id']}/")
    print(f"{len(written)} objects in the bucket, e.g. {written[:5]}")
    assert f"{on_demand['id']}/backup_config.json" in written
    for i in range(MEMBERS):  # every member wrote its own part
        assert any(key.startswith(f"{on_demand['id']}/{SOURCE}-{i}/") for key in written)

    # On schedule: what the CronJob runs asks for the next one (its pod, run once here, because
    # kwok completes Job pods without waiting for their processes).
    members[1].insert(COLLECTION, _objects(vectors[FIRST:], FIRST))
    eventually(
        lambda: wv.wait_for(lambda: all(m.count(COLLECTION) == FIRST + MORE for m in members)),
        timeout=60,
        interval=1,
        what="every member to count every object",
    )
    cron = client.BatchV1Api(clusters.api).read_namespaced_cron_job(
        f"{SOURCE}-backup", clusters.namespace
    )
    assert cron.spec.schedule == "0 3 * * *"
    job = client.ApiClient().sanitize_for_serialization(cron.spec.job_template.spec.template.spec)
    clusters.run_pod(f"{SOURCE}-backup-now", job)
    scheduled = _last_backup(clusters, SOURCE, other_than=on_demand["id"])
    print("scheduled backup:", scheduled)
    assert scheduled["result"] == "Succeeded"
    assert f"{scheduled['id']}/backup_config.json" in s3_server.keys("backups", scheduled["id"])

    before = _answers(members, queries)
    assert all(count == FIRST + MORE for count, _ in before)
    assert all(ids == before[0][1] for _, ids in before)  # every member answers alike
    assert all(len(ids) == TOP_K for ids in before[0][1])

    # Restore is declared at creation only: a running cluster cannot take one.
    restore = {"backupId": scheduled["id"], "sourceCluster": SOURCE}
    assert "spec.restore can be set only when a VectorCluster is created" in _refused(
        clusters, SOURCE, {"spec": {"restore": restore}}
    )

    # The source is gone; a new cluster on the same bucket restores the scheduled backup.
    clusters.delete(SOURCE)
    eventually(lambda: not clusters.pods(SOURCE), timeout=300, interval=2, what="src gone")
    started = time.monotonic()
    clusters.create(
        RESTORED,
        vectorclusters.spec(replicas=MEMBERS, replicationFactor=3, backup=backup, restore=restore),
    )
    clusters.wait_condition(RESTORED, "Restored", "True", timeout=900)
    print(f"created and restored in {time.monotonic() - started:.0f}s")
    record = clusters.get(RESTORED)["status"]["restore"]
    print("status.restore:", record)
    assert (record["backupId"], record["phase"]) == (scheduled["id"], "Succeeded")
    assert record["startedAt"] <= record["completedAt"]
    restored = _members(clusters, RESTORED)
    after = _answers(restored, queries)
    assert after == before
    assert [e.message for e in _events(clusters, RESTORED, "RestoreStarted")] == [
        f"restoring backup {scheduled['id']} from the s3 backend"
    ]
    assert "cannot change once set" in _refused(
        clusters, RESTORED, {"spec": {"restore": {"backupId": on_demand["id"]}}}
    )

    # Once: later reconciles (a backup of the new cluster among them) never restore again.
    clusters.annotate(RESTORED, "runestone.dev/backup", "after-restore")
    assert _last_backup(clusters, RESTORED)["result"] == "Succeeded"
    time.sleep(3 * operator_process.RESYNC_SECONDS)
    assert len(_events(clusters, RESTORED, "RestoreStarted")) == 1
    assert clusters.get(RESTORED)["status"]["restore"] == record
    assert _answers(restored, queries) == before
    clusters.delete(RESTORED)
    eventually(lambda: not clusters.pods(RESTORED), timeout=300, interval=2, what="copy gone")

    # Credentials the members could not start with: Degraded, naming what is missing (no value).
    late = f"{SECRET}-late"
    clusters.create(
        MISSING,
        vectorclusters.spec(
            replicas=1, backup=_backup(s3_server, late), restore={"backupId": "no-such-backup"}
        ),
    )
    degraded = clusters.wait_condition(
        MISSING, "Degraded", "True", timeout=300, reason="MissingSecret"
    )
    assert f"Secret '{late}' does not exist (backup.s3.credentialsSecretRef)" in degraded["message"]
    _secret(clusters, late, credentials, whole=False)
    eventually(
        lambda: (
            "has no key 'AWS_SECRET_ACCESS_KEY'"
            in (clusters.condition(MISSING, "Degraded") or {}).get("message", "")
        ),
        timeout=300,
        interval=1,
        what="the missing key named",
    )
    assert not clusters.pods(MISSING)

    # A backup the bucket does not hold: Degraded, with a Warning Event, and nothing restored.
    _secret(clusters, late, credentials)
    degraded = clusters.wait_condition(
        MISSING, "Degraded", "True", timeout=600, reason="BackupNotFound"
    )
    print("missing backup:", degraded["message"])
    assert "backup no-such-backup is not in the s3 backend" in degraded["message"]
    assert (clusters.condition(MISSING, "Restored") or {}).get("reason") == "BackupNotFound"
    assert clusters.get(MISSING)["status"]["restore"]["phase"] == "Pending"
    (warning,) = _events(clusters, MISSING, "BackupNotFound")
    assert warning.type == "Warning"
    assert "no-such-backup" in warning.message
    assert not _events(clusters, MISSING, "RestoreStarted")
    assert credentials.secret_key not in operator.log.read_text()
    assert not any(
        credentials.secret_key in str(e.message)
        for e in _events(clusters, MISSING, "MissingSecret")
    )


def test_the_store_takes_only_its_identitys_signatures(s3_server: s3.S3Server) -> None:
    """So the backups above show the members signing with the keys from the Secret; and the
    store's own keys are not on its command line, which any process listing shows."""
    assert s3_server.process is not None
    argv = Path(f"/proc/{s3_server.process.pid}/cmdline").read_bytes()
    assert s3_server.credentials.secret_key.encode() not in argv
    s3_server.request("PUT", "/backups/probe/object", body=b"payload")
    assert s3_server.request("GET", "/backups/probe/object").content == b"payload"
    assert "probe/object" in s3_server.keys("backups", "probe/")
    anonymous = httpx.get(f"{s3_server.endpoint}/backups/probe/object", timeout=30)
    assert anonymous.status_code == 403
    impostor = s3.Credentials(s3_server.credentials.access_key, "not-the-secret-key-of-it")
    with pytest.raises(s3.S3Error) as refused:
        s3_server.request("GET", "/backups/probe/object", credentials=impostor)
    assert refused.value.status == 403
    assert "SignatureDoesNotMatch" in str(refused.value)
    s3_server.request("DELETE", "/backups/probe/object")
    assert not s3_server.keys("backups", "probe/")
