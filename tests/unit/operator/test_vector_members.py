"""The members' StatefulSet with the Weaviate engine: what every member is told, derived from the
spec and the pod names, and the sidecar that reports into the readiness gate."""

from __future__ import annotations

from typing import Any

import pytest

from runestone_operator.core import kinds, meta
from runestone_operator.vectorcluster import model as vectorcluster
from runestone_operator.vectorcluster.builders import members
from runestone_operator.vectorcluster.builders.cluster import Cluster
from runestone_operator.vectorcluster.engines import weaviate
from runestone_operator.vectorcluster.engines.weaviate import members as weaviate_members
from unit.operator import qos

OWNER = meta.Owner(kinds.API_VERSION, "VectorCluster", "team", "docs", "uid-5678")


def spec(**extra: Any) -> vectorcluster.VectorClusterSpec:
    return vectorcluster.VectorClusterSpec.model_validate(
        {
            "version": "1.39.3",
            "replicas": 3,
            "apiKeys": [{"name": "gateway", "role": "admin"}, {"name": "analytics"}],
            "storage": {"size": "20Gi", "storageClassName": "fast"},
            **extra,
        }
    )


def inputs(**changes: Any) -> members.Inputs:
    base: dict[str, Any] = {
        "cluster": Cluster(OWNER, "weaviate"),
        "engine": weaviate.ENGINE,
        "spec": spec(),
        "replicas": 3,
        "sidecar_image": "ghcr.io/example/runestone:1.0",
        "tls_secret": "docs-tls",
        "config_hash": "hash-1",
    }
    return members.Inputs(**{**base, **changes})


def statefulset(**changes: Any) -> dict[str, Any]:
    return members.statefulset(inputs(**changes))


def container(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        c for c in manifest["spec"]["template"]["spec"]["containers"] if c["name"] == name
    )
    return found


def env(manifest: dict[str, Any]) -> dict[str, Any]:
    """Plain values as strings; fieldRefs and secretKeyRefs as their source."""
    found: dict[str, Any] = {}
    for entry in container(manifest, "weaviate")["env"]:
        if "value" in entry:
            found[entry["name"]] = entry["value"]
        elif "fieldRef" in entry["valueFrom"]:
            found[entry["name"]] = ("field", entry["valueFrom"]["fieldRef"]["fieldPath"])
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            found[entry["name"]] = ("secret", ref["name"], ref["key"])
    return found


def test_members_start_in_parallel_behind_a_headless_service() -> None:
    manifest = statefulset()
    assert manifest["metadata"]["name"] == "docs"
    assert manifest["metadata"]["ownerReferences"][0]["uid"] == "uid-5678"
    assert manifest["spec"]["podManagementPolicy"] == "Parallel"
    assert manifest["spec"]["serviceName"] == "docs-members"
    assert manifest["spec"]["updateStrategy"] == {"type": "OnDelete"}  # the operator rolls
    assert manifest["spec"]["replicas"] == 3


def test_node_names_and_joins_come_from_the_pod_names() -> None:
    values = env(statefulset())
    assert values["CLUSTER_HOSTNAME"] == ("field", "metadata.name")
    assert values["RAFT_JOIN"] == "docs-0,docs-1,docs-2"
    assert values["RAFT_BOOTSTRAP_EXPECT"] == "3"
    assert values["CLUSTER_JOIN"] == ",".join(
        f"docs-{i}.docs-members.team.svc.cluster.local:7100" for i in range(3)
    )
    ports = {p["name"]: p["containerPort"] for p in container(statefulset(), "weaviate")["ports"]}
    assert values["CLUSTER_GOSSIP_BIND_PORT"] == str(ports["gossip"])
    assert values["CLUSTER_DATA_BIND_PORT"] == str(ports["data"])
    assert values["RAFT_PORT"] == str(ports["raft"])
    assert values["RAFT_INTERNAL_RPC_PORT"] == str(ports["raft-rpc"])


def test_members_beyond_five_join_as_non_voters_without_a_new_template() -> None:
    six, seven = statefulset(replicas=6), statefulset(replicas=7)
    assert env(seven)["RAFT_BOOTSTRAP_EXPECT"] == "5"
    assert env(seven)["RAFT_JOIN"] == ",".join(f"docs-{i}" for i in range(5))
    assert six["spec"]["template"] == seven["spec"]["template"]
    assert seven["spec"]["replicas"] == 7


def test_keys_come_from_the_operators_secret_and_roles_from_the_spec() -> None:
    values = env(statefulset())
    assert values["AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED"] == "false"
    assert values["AUTHENTICATION_APIKEY_ENABLED"] == "true"
    for name in ("AUTHENTICATION_APIKEY_ALLOWED_KEYS", "AUTHENTICATION_APIKEY_USERS"):
        assert values[name] == ("secret", "docs-weaviate-auth", name)
    assert values["AUTHORIZATION_RBAC_ENABLED"] == "true"
    assert values["AUTHORIZATION_RBAC_ROOT_USERS"] == "gateway,runestone_operator"
    assert values["EXPERIMENTAL_AUTHORIZATION_RBAC_READONLY_USERS"] == "analytics,runestone_probe"


def test_telemetry_is_off_and_replication_defaults_follow_the_spec() -> None:
    assert env(statefulset())["DISABLE_TELEMETRY"] == "true"
    assert "REPLICATION_MINIMUM_FACTOR" not in env(statefulset())
    values = env(statefulset(spec=spec(replicationFactor=3)))
    assert values["REPLICATION_MINIMUM_FACTOR"] == "3"


@pytest.mark.parametrize(
    "changes",
    [{}, {"spec": spec(replicas=1), "replicas": 1}, {"tls_secret": None}],
)
def test_every_member_indexes_vectors_through_its_on_disk_queue(changes: dict[str, Any]) -> None:
    """Synchronous indexing loses the tail of the HNSW log when a member is killed: acknowledged
    objects that its searches never find again (test_crash_index.py). Every member, whatever the
    spec, queues vectors on disk and indexes them from there, with the queue checked often
    enough that a search finds a new object within about a second under steady writes."""
    values = env(statefulset(**changes))
    assert values["ASYNC_INDEXING"] == "true"
    assert values["ASYNC_INDEXING_STALE_TIMEOUT"] == "5ms"
    assert values["QUEUE_SCHEDULER_INTERVAL"] == "100ms"


def test_weaviate_starts_through_the_start_program_copied_from_the_runestone_image() -> None:
    """A crash between a batch's object WAL and its vector queue leaves objects out of the index;
    the start program (operator/weaviate-start) asks Weaviate to re-queue them before it starts.
    It must run at every start of the container, not only the pod's, so the pod's init container
    copies it into a volume and the container's command runs it from there."""
    template = statefulset()["spec"]["template"]["spec"]
    (install,) = template["initContainers"]
    assert install["image"] == "ghcr.io/example/runestone:1.0"
    assert install["command"] == [
        "cp",
        "/usr/local/bin/runestone-weaviate-start",
        "/usr/local/lib/runestone/runestone-weaviate-start",
    ]
    assert install["securityContext"]["readOnlyRootFilesystem"] is True
    assert install["resources"]["limits"]["memory"]
    assert install["volumeMounts"] == [
        {"name": "runestone-tools", "mountPath": "/usr/local/lib/runestone"}
    ]
    weaviate_container = container(statefulset(), "weaviate")
    assert weaviate_container["command"] == [
        "/usr/local/lib/runestone/runestone-weaviate-start",
        "--data",
        "/var/lib/weaviate",
        "--",
        "/bin/weaviate",
    ]
    assert {
        "name": "runestone-tools",
        "mountPath": "/usr/local/lib/runestone",
        "readOnly": True,
    } in weaviate_container["volumeMounts"]
    assert {"name": "runestone-tools", "emptyDir": {"sizeLimit": "64Mi"}} in template["volumes"]
    assert env(statefulset())["PERSISTENCE_DATA_PATH"] == "/var/lib/weaviate"


def test_client_tls_serves_https_and_keeps_plain_http_on_loopback() -> None:
    weaviate = container(statefulset(), "weaviate")
    args = weaviate["args"]
    assert args[args.index("--tls-port") + 1] == "8443"
    assert args[args.index("--tls-host") + 1] == "0.0.0.0"
    assert args[args.index("--host") + 1] == "127.0.0.1"
    assert {"name": "tls", "mountPath": "/etc/weaviate/tls", "readOnly": True} in weaviate[
        "volumeMounts"
    ]
    assert weaviate["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert env(statefulset())["GRPC_CERT_FILE"] == "/etc/weaviate/tls/tls.crt"
    volumes = {v["name"]: v for v in statefulset()["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "docs-tls"


def test_without_tls_plain_http_on_every_address() -> None:
    manifest = statefulset(tls_secret=None)
    weaviate = container(manifest, "weaviate")
    assert "--tls-port" not in weaviate["args"]
    assert weaviate["args"][weaviate["args"].index("--host") + 1] == "0.0.0.0"
    assert weaviate["readinessProbe"]["httpGet"]["scheme"] == "HTTP"
    assert "GRPC_CERT_FILE" not in env(manifest)
    assert "tls" not in {v["name"] for v in manifest["spec"]["template"]["spec"]["volumes"]}


def test_each_member_gets_a_volume_from_the_claim_template() -> None:
    manifest = statefulset()
    (template,) = manifest["spec"]["volumeClaimTemplates"]
    assert template["metadata"]["name"] == "data"
    assert template["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "20Gi"}},
        "storageClassName": "fast",
    }
    mounts = container(manifest, "weaviate")["volumeMounts"]
    assert {"name": "data", "mountPath": "/var/lib/weaviate"} in mounts
    assert env(manifest)["PERSISTENCE_DATA_PATH"] == "/var/lib/weaviate"
    assert manifest["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Retain"


def test_an_existing_claim_template_is_kept_as_created() -> None:
    created = [
        {
            "metadata": {"name": "data"},
            "spec": {"resources": {"requests": {"storage": "5Gi"}}},
            "status": {"phase": "Pending"},
        }
    ]
    templates = statefulset(claim_templates=created)["spec"]["volumeClaimTemplates"]
    assert templates == [{k: v for k, v in created[0].items() if k != "status"}]


def test_the_gate_is_set_by_the_sidecar_of_each_member() -> None:
    manifest = statefulset()
    pod = manifest["spec"]["template"]["spec"]
    assert pod["readinessGates"] == [{"conditionType": "runestone.dev/member-ready"}]
    assert pod["serviceAccountName"] == "runestone-vector-docs"
    sidecar = container(manifest, "sidecar")
    assert sidecar["image"] == "ghcr.io/example/runestone:1.0"
    args = sidecar["args"]
    assert args[0] == "sidecar"
    assert args[args.index("--target") + 1] == "member"
    assert args[args.index("--engine") + 1] == "weaviate"  # the sidecar's probe of this engine
    assert args[args.index("--condition") + 1] == "runestone.dev/member-ready"
    assert args[args.index("--url") + 1] == "http://127.0.0.1:8080"
    assert args[args.index("--api-key-file") + 1] == "/etc/runestone/probe-key/api-key"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["probe-key"]["secret"]["secretName"] == "docs-probe-key"


def test_the_sidecar_is_restarted_when_its_probe_loop_stalls() -> None:
    sidecar = container(statefulset(), "sidecar")
    assert sidecar["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "sidecar"}
    assert {"name": "sidecar", "containerPort": 8082, "protocol": "TCP"} in sidecar["ports"]


def test_members_shut_down_slowly_and_run_unprivileged() -> None:
    pod = statefulset()["spec"]["template"]["spec"]
    weaviate = container(statefulset(), "weaviate")
    assert weaviate["lifecycle"]["preStop"] == {"sleep": {"seconds": 10}}
    assert pod["terminationGracePeriodSeconds"] == 120
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert weaviate["image"] == "cr.weaviate.io/semitechnologies/weaviate:1.39.3"
    mirrored = statefulset(spec=spec(image="mirror/weaviate:x"))
    assert container(mirrored, "weaviate")["image"] == "mirror/weaviate:x"


def test_the_template_carries_the_config_hash_and_restart_token() -> None:
    annotations = statefulset(restart_token="now")["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {
        "runestone.dev/config-hash": "hash-1",
        "runestone.dev/restart-token": "now",
    }
    assert "runestone.dev/restart-token" not in str(statefulset()["spec"]["template"])


def test_filesystem_backups_go_to_the_shared_claim() -> None:
    backup = {"schedule": "0 3 * * *", "backend": "filesystem"}
    manifest = statefulset(spec=spec(backup=backup), backup_claim="docs-backups")
    values = env(manifest)
    assert values["ENABLE_MODULES"] == "backup-filesystem"
    assert values["BACKUP_FILESYSTEM_PATH"] == "/var/lib/weaviate-backups"
    mounts = container(manifest, "weaviate")["volumeMounts"]
    assert {"name": "backups", "mountPath": "/var/lib/weaviate-backups"} in mounts
    volumes = {v["name"]: v for v in manifest["spec"]["template"]["spec"]["volumes"]}
    assert volumes["backups"]["persistentVolumeClaim"] == {"claimName": "docs-backups"}


@pytest.mark.parametrize(
    ("endpoint", "host", "ssl"),
    [
        ("http://minio.storage:9000", "minio.storage:9000", "false"),
        ("https://s3.x", "s3.x", "true"),
    ],
)
def test_s3_backups_take_credentials_from_a_secret(endpoint: str, host: str, ssl: str) -> None:
    backup = {
        "schedule": "@daily",
        "backend": "s3",
        "s3": {
            "bucket": "backups",
            "endpoint": endpoint,
            "region": "eu-1",
            "credentialsSecretRef": {"name": "s3-creds"},
        },
    }
    values = env(statefulset(spec=spec(backup=backup)))
    assert values["ENABLE_MODULES"] == "backup-s3"
    assert values["BACKUP_S3_BUCKET"] == "backups"
    assert values["BACKUP_S3_ENDPOINT"] == host
    assert values["BACKUP_S3_USE_SSL"] == ssl
    assert values["AWS_REGION"] == "eu-1"
    assert values["AWS_SECRET_ACCESS_KEY"] == ("secret", "s3-creds", "AWS_SECRET_ACCESS_KEY")


def test_resources_follow_the_spec() -> None:
    limited = spec(resources={"limits": {"memory": "4Gi"}})
    assert container(statefulset(spec=limited), "weaviate")["resources"] == {
        "limits": {"memory": "4Gi"}
    }


def test_without_resources_a_member_gets_a_memory_limit() -> None:
    """Weaviate's index grows with the data: unbounded, it would starve the node."""
    resources = container(statefulset(), "weaviate")["resources"]
    assert resources == weaviate_members.DEFAULT_RESOURCES
    assert resources["limits"]["memory"] == "2Gi"
    assert resources["requests"]["memory"] == "1Gi"


@pytest.mark.parametrize(
    ("limit", "gomemlimit"),
    [(None, "1740MiB"), ("4Gi", "3481MiB"), ("1000M", "810MiB"), ("3221225472", "2611MiB")],
)
def test_go_memory_limit_follows_the_memory_limit(limit: str | None, gomemlimit: str) -> None:
    """The Go runtime collects harder as it nears GOMEMLIMIT: set below the container's limit,
    it turns a growing heap into garbage collection before the kernel's OOM kill."""
    resources = {"limits": {"memory": limit}} if limit else None
    assert env(statefulset(spec=spec(resources=resources)))["GOMEMLIMIT"] == gomemlimit


def test_no_memory_limit_no_go_memory_limit() -> None:
    """Resources without a memory limit are the user's choice: nothing to derive from."""
    values = env(statefulset(spec=spec(resources={"requests": {"memory": "8Gi"}})))
    assert "GOMEMLIMIT" not in values


def test_gateways_that_reference_the_cluster_are_admins() -> None:
    values = env(statefulset(gateway_users=("gateway.main", "gateway.docs")))
    assert values["AUTHORIZATION_RBAC_ROOT_USERS"] == (
        "gateway,gateway.main,gateway.docs,runestone_operator"
    )
    assert values["EXPERIMENTAL_AUTHORIZATION_RBAC_READONLY_USERS"] == "analytics,runestone_probe"


def _pod(manifest: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return pod


@pytest.mark.parametrize(
    "resources",
    [
        {"limits": {"cpu": 4, "memory": "8Gi"}},
        {"requests": {"cpu": "4000m", "memory": "8Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}},
    ],
)
def test_a_member_asking_for_guaranteed_resources_gets_a_guaranteed_pod(
    resources: dict[str, Any],
) -> None:
    manifest = statefulset(spec=spec(resources=resources))
    pod = _pod(manifest)
    helpers = [container(manifest, "sidecar"), *pod["initContainers"]]
    for helper in helpers:
        assert helper["resources"]["requests"] == helper["resources"]["limits"]
    assert qos.pod_class(pod) == "Guaranteed"


@pytest.mark.parametrize(
    "resources",
    [
        None,  # the engine's default: a memory request under its limit
        {"limits": {"memory": "8Gi"}},
        {"requests": {"cpu": 2, "memory": "8Gi"}, "limits": {"cpu": 4, "memory": "8Gi"}},
    ],
)
def test_a_member_not_asking_for_guaranteed_resources_keeps_the_small_helpers(
    resources: dict[str, Any] | None,
) -> None:
    manifest = statefulset(spec=spec(resources=resources))
    assert container(manifest, "sidecar")["resources"] == {
        "requests": {"cpu": "10m", "memory": "32Mi"},
        "limits": {"memory": "64Mi"},
    }
    assert _pod(manifest)["initContainers"][0]["resources"] == weaviate_members.INSTALL_RESOURCES
    assert qos.pod_class(_pod(manifest)) == "Burstable"


def test_a_members_sidecar_takes_the_resources_the_spec_gives_it() -> None:
    given = {"requests": {"cpu": "20m", "memory": "40Mi"}, "limits": {"memory": "80Mi"}}
    manifest = statefulset(spec=spec(sidecar={"resources": given}))
    assert container(manifest, "sidecar")["resources"] == given
    assert _pod(manifest)["initContainers"][0]["resources"] == weaviate_members.INSTALL_RESOURCES


def test_members_run_on_the_nodes_the_spec_names() -> None:
    scheduling = {
        "nodeSelector": {"pool": "vectors"},
        "tolerations": [{"key": "dedicated", "value": "vectors", "effect": "NoSchedule"}],
    }
    pod = _pod(statefulset(spec=spec(scheduling=scheduling)))
    assert pod["nodeSelector"] == {"pool": "vectors"}
    assert pod["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "vectors", "effect": "NoSchedule"}
    ]
