"""Everything around a VectorCluster's members: Services, the NetworkPolicy fence, the PDB, the
credentials Secret, the backup CronJob and claim, and the two identities (with Weaviate's ports
where an engine's come in)."""

from __future__ import annotations

from typing import Any

from runestone_operator.core import kinds, meta
from runestone_operator.core import models as common
from runestone_operator.vectorcluster import model as vectorcluster
from runestone_operator.vectorcluster import names
from runestone_operator.vectorcluster.builders import access, backup, credentials, network
from runestone_operator.vectorcluster.builders.cluster import Cluster
from runestone_operator.vectorcluster.engines import weaviate
from runestone_operator.vectorcluster.engines.weaviate import members as weaviate_members

OWNER = meta.Owner(kinds.API_VERSION, "VectorCluster", "team", "docs", "uid-5678")
CLUSTER = Cluster(OWNER, "weaviate")
NOWHERE = common.Scheduling()  # no node selector, no tolerations
ENGINE = weaviate.ENGINE
MEMBERS = {
    "app.kubernetes.io/name": "runestone-vectorcluster",
    "app.kubernetes.io/instance": "docs",
    "app.kubernetes.io/component": "weaviate",
}


def owned(manifest: dict[str, Any]) -> bool:
    references = manifest["metadata"].get("ownerReferences") or []
    return [r["uid"] for r in references] == ["uid-5678"]


# -- reaching the members -------------------------------------------------------------------------


def test_the_headless_service_lists_members_before_they_are_ready() -> None:
    service = network.headless_service(CLUSTER, ENGINE)
    assert service["metadata"]["name"] == "docs-members"
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    assert service["spec"]["selector"] == MEMBERS
    assert {(p["port"], p["protocol"]) for p in service["spec"]["ports"]} == {
        (7100, "TCP"),
        (7100, "UDP"),
        (7101, "TCP"),
        (8300, "TCP"),
        (8301, "TCP"),
    }
    assert owned(service)


def test_the_client_service_exposes_only_client_ports() -> None:
    for tls, port, target in ((True, 443, "https"), (False, 80, "http")):
        service = network.client_service(CLUSTER, ENGINE, tls)
        assert service["metadata"]["name"] == "docs"
        assert service["spec"]["selector"] == MEMBERS
        ports = {p["name"]: p for p in service["spec"]["ports"]}
        assert ports[target]["port"] == port
        assert ports[target]["targetPort"] == "client"
        assert set(ports) == {target, "grpc", "metrics"}
        assert ports["grpc"]["appProtocol"] == "grpc"
        assert "appProtocol" not in ports["metrics"]


def test_gossip_data_and_raft_ports_are_fenced_to_members() -> None:
    policy = network.network_policy(CLUSTER, ENGINE, tls=True)
    assert policy["spec"]["podSelector"] == {"matchLabels": MEMBERS}
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    internal, public = policy["spec"]["ingress"]
    assert internal["from"] == [{"podSelector": {"matchLabels": MEMBERS}}]
    assert {(p["port"], p["protocol"]) for p in internal["ports"]} == {
        (weaviate_members.GOSSIP_PORT, "TCP"),
        (weaviate_members.GOSSIP_PORT, "UDP"),
        (weaviate_members.DATA_PORT, "TCP"),
        (weaviate_members.RAFT_PORT, "TCP"),
        (weaviate_members.RAFT_RPC_PORT, "TCP"),
    }
    assert "from" not in public
    open_ports = {p["port"] for p in public["ports"]}
    assert open_ports.isdisjoint(p.port for p in ENGINE.peer_ports())
    assert {names.SIDECAR_PORT, names.SIDECAR_GRPC_PORT} <= open_ports
    assert 8443 in open_ports
    assert 8080 in {
        p["port"]
        for p in network.network_policy(CLUSTER, ENGINE, tls=False)["spec"]["ingress"][1]["ports"]
    }


def test_one_member_at_a_time_may_be_evicted() -> None:
    pdb = network.pdb(CLUSTER)
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": MEMBERS}}


# -- who may connect -----------------------------------------------------------------------------


def test_the_engines_credentials_live_in_a_secret_named_after_the_engine() -> None:
    data = {"AUTHENTICATION_APIKEY_ALLOWED_KEYS": "rsk_a", "AUTHENTICATION_APIKEY_USERS": "a"}
    secret = credentials.credentials_secret(CLUSTER, data)
    assert secret["metadata"]["name"] == "docs-weaviate-auth"
    assert secret["data"] == {
        "AUTHENTICATION_APIKEY_ALLOWED_KEYS": "cnNrX2E=",
        "AUTHENTICATION_APIKEY_USERS": "YQ==",
    }
    assert owned(secret)


def test_the_credentials_digest_changes_with_any_key_and_holds_none() -> None:
    data = {
        "AUTHENTICATION_APIKEY_ALLOWED_KEYS": "rsk_a,rsk_b",
        "AUTHENTICATION_APIKEY_USERS": "a,b",
    }
    digest = credentials.digest(data)
    assert "rsk_" not in digest
    assert digest == credentials.digest(dict(reversed(data.items())))
    rotated = {**data, "AUTHENTICATION_APIKEY_ALLOWED_KEYS": "rsk_a,rsk_c"}
    assert credentials.digest(rotated) != digest


def test_the_serving_certificate_covers_the_client_service_and_every_member() -> None:
    dns_names = names.serving_dns_names("docs", "team")
    assert "docs.team.svc" in dns_names
    assert "*.docs-members.team.svc" in dns_names
    assert "*.docs-members.team.svc.cluster.local" in dns_names


# -- backups --------------------------------------------------------------------------------------


def backup_spec(**extra: Any) -> vectorcluster.Backup:
    return vectorcluster.Backup.model_validate({"schedule": "0 3 * * *", **extra})


def test_the_cronjob_asks_the_operator_for_a_backup_of_its_own_cluster() -> None:
    cron = backup.cronjob(CLUSTER, "0 3 * * *", "ghcr.io/example/runestone:1.0", NOWHERE)
    assert cron["metadata"]["name"] == "docs-backup"
    assert owned(cron)
    assert cron["spec"]["schedule"] == "0 3 * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod == backup.job_pod_spec("docs", "ghcr.io/example/runestone:1.0", NOWHERE)
    assert pod["serviceAccountName"] == "runestone-vector-backup-docs"
    (job,) = pod["containers"]
    assert job["command"] == ["runestone"]
    assert job["args"] == ["backup", "--vectorcluster", "docs"]
    assert pod["restartPolicy"] == "OnFailure"


def test_backup_job_pods_run_where_the_cluster_may() -> None:
    pool = common.Scheduling.model_validate(
        {
            "nodeSelector": {"pool": "vectors"},
            "tolerations": [{"key": "dedicated", "value": "vectors", "effect": "NoSchedule"}],
        }
    )
    cron = backup.cronjob(CLUSTER, "0 3 * * *", "ghcr.io/example/runestone:1.0", pool)
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "vectors"}
    assert pod["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "vectors", "effect": "NoSchedule"}
    ]
    assert "nodeSelector" not in backup.job_pod_spec(
        "docs", "ghcr.io/example/runestone:1.0", NOWHERE
    )


def test_backup_job_pods_are_never_taken_for_members() -> None:
    labels = backup.job_labels(CLUSTER)
    assert labels["app.kubernetes.io/instance"] == "docs"
    assert not all(labels.get(k) == v for k, v in MEMBERS.items())


def test_the_filesystem_backend_shares_one_claim_that_outlives_the_cluster() -> None:
    assert backup.claim_name("docs", backup_spec()) == "docs-backups"
    assert backup.claim_name("docs", backup_spec(volumeClaimName="shared")) == "shared"
    s3 = backup_spec(backend="s3", s3={"bucket": "b-1", "credentialsSecretRef": {"name": "creds"}})
    assert backup.claim_name("docs", s3) is None
    storage = vectorcluster.Storage.model_validate({"size": "5Gi", "storageClassName": "nfs"})
    claim = backup.backup_claim(CLUSTER, storage)
    assert claim["metadata"]["name"] == "docs-backups"
    assert "ownerReferences" not in claim["metadata"]
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "5Gi"}},
        "storageClassName": "nfs",
    }


# -- identities -----------------------------------------------------------------------------------


def test_members_may_only_report_their_own_readiness() -> None:
    account, role, binding = access.member_identity(CLUSTER)
    assert account["metadata"]["name"] == "runestone-vector-docs"
    assert {tuple(r["resources"]) for r in role["rules"]} == {("pods",), ("pods/status",)}
    assert all(set(r["verbs"]) <= {"get", "patch"} for r in role["rules"])
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "runestone-vector-docs", "namespace": "team"}
    ]


def test_the_backup_job_may_only_annotate_its_own_vectorcluster() -> None:
    account, role, binding = access.backup_identity(CLUSTER)
    assert account["automountServiceAccountToken"] is False
    assert role["rules"] == [
        {
            "apiGroups": ["runestone.dev"],
            "resources": ["vectorclusters"],
            "verbs": ["get", "patch"],
            "resourceNames": ["docs"],
        }
    ]
    assert binding["roleRef"]["name"] == "runestone-vector-backup-docs"
