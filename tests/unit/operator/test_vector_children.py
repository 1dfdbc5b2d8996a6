"""Everything around a VectorCluster's members: Services, the NetworkPolicy fence, the PDB, the
key and TLS Secrets, the backup CronJob and claim, and the two identities."""

from __future__ import annotations

from typing import Any

from runestone_operator import keyplan, vectornames
from runestone_operator.builders import (
    meta,
    vector_access,
    vector_backup,
    vector_network,
    vector_secrets,
)
from runestone_operator.models import common, gateway, vectorcluster

OWNER = meta.Owner(common.API_VERSION, "VectorCluster", "team", "docs", "uid-5678")
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
    service = vector_network.headless_service(OWNER)
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
        service = vector_network.client_service(OWNER, tls)
        assert service["metadata"]["name"] == "docs"
        assert service["spec"]["selector"] == MEMBERS
        ports = {p["name"]: p for p in service["spec"]["ports"]}
        assert ports[target]["port"] == port
        assert ports[target]["targetPort"] == "client"
        assert set(ports) == {target, "grpc", "metrics"}
        assert vector_network.url(OWNER, tls) == f"{target}://docs.team.svc:{port}"


def test_gossip_data_and_raft_ports_are_fenced_to_members() -> None:
    policy = vector_network.network_policy(OWNER, tls=True)
    assert policy["spec"]["podSelector"] == {"matchLabels": MEMBERS}
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    internal, public = policy["spec"]["ingress"]
    assert internal["from"] == [{"podSelector": {"matchLabels": MEMBERS}}]
    assert {(p["port"], p["protocol"]) for p in internal["ports"]} == {
        (vectornames.GOSSIP_PORT, "TCP"),
        (vectornames.GOSSIP_PORT, "UDP"),
        (vectornames.DATA_PORT, "TCP"),
        (vectornames.RAFT_PORT, "TCP"),
        (vectornames.RAFT_RPC_PORT, "TCP"),
    }
    assert "from" not in public
    open_ports = {p["port"] for p in public["ports"]}
    assert open_ports.isdisjoint(vectornames.MEMBER_PORTS)
    assert 8443 in open_ports
    assert 8080 in {
        p["port"]
        for p in vector_network.network_policy(OWNER, tls=False)["spec"]["ingress"][1]["ports"]
    }


def test_one_member_at_a_time_may_be_evicted() -> None:
    pdb = vector_network.pdb(OWNER)
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": MEMBERS}}


# -- keys and certificates ------------------------------------------------------------------------


USERS = (
    vector_secrets.UserKey("gateway", "rsk_admin_secret", admin=True),
    vector_secrets.UserKey("analytics", "rsk_viewer_secret", admin=False),
)


def test_each_key_has_its_own_secret_labelled_with_its_role() -> None:
    stored = keyplan.StoredKey(name="gateway", plaintext="rsk_admin_secret")
    secret = vector_secrets.key_secret(OWNER, stored, "admin")
    assert secret["metadata"]["name"] == "docs-key-gateway"
    assert secret["metadata"]["labels"]["runestone.dev/api-key"] == "gateway"
    assert secret["metadata"]["annotations"] == {"runestone.dev/weaviate-role": "admin"}
    assert secret["data"] == {"api-key": "cnNrX2FkbWluX3NlY3JldA=="}
    assert owned(secret)


def test_weaviate_gets_keys_and_users_position_by_position() -> None:
    secret = vector_secrets.auth_secret(OWNER, USERS)
    assert secret["metadata"]["name"] == "docs-weaviate-auth"
    assert secret["data"] == {
        "AUTHENTICATION_APIKEY_ALLOWED_KEYS": "cnNrX2FkbWluX3NlY3JldCxyc2tfdmlld2VyX3NlY3JldA==",
        "AUTHENTICATION_APIKEY_USERS": "Z2F0ZXdheSxhbmFseXRpY3M=",
    }


def test_the_keys_digest_changes_with_any_key_and_holds_none() -> None:
    digest = vector_secrets.keys_digest(USERS)
    assert "rsk_" not in digest
    assert digest == vector_secrets.keys_digest(tuple(reversed(USERS)))
    rotated = (USERS[0], vector_secrets.UserKey("analytics", "rsk_other", admin=False))
    assert vector_secrets.keys_digest(rotated) != digest
    promoted = (USERS[0], vector_secrets.UserKey("analytics", "rsk_viewer_secret", admin=True))
    assert vector_secrets.keys_digest(promoted) != digest
    assert "rsk_" not in repr(USERS)


def test_the_serving_certificate_covers_the_client_service_and_every_member() -> None:
    names = vector_secrets.serving_dns_names(OWNER)
    assert "docs.team.svc" in names
    assert "*.docs-members.team.svc" in names
    assert "*.docs-members.team.svc.cluster.local" in names


def test_cert_manager_writes_the_members_tls_secret() -> None:
    tls = gateway.Tls.model_validate(
        {"mode": "certManager", "issuerRef": {"name": "ca-issuer", "kind": "ClusterIssuer"}}
    )
    certificate = vector_secrets.certificate(OWNER, tls)
    assert certificate["spec"]["secretName"] == "docs-tls"
    assert certificate["spec"]["issuerRef"]["name"] == "ca-issuer"
    assert certificate["spec"]["dnsNames"] == vector_secrets.serving_dns_names(OWNER)


# -- backups --------------------------------------------------------------------------------------


def backup(**extra: Any) -> vectorcluster.Backup:
    return vectorcluster.Backup.model_validate({"schedule": "0 3 * * *", **extra})


def test_the_cronjob_asks_the_operator_for_a_backup_of_its_own_cluster() -> None:
    cron = vector_backup.cronjob(OWNER, "0 3 * * *", "ghcr.io/example/runestone:1.0")
    assert cron["metadata"]["name"] == "docs-backup"
    assert owned(cron)
    assert cron["spec"]["schedule"] == "0 3 * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod == vector_backup.job_pod_spec(OWNER, "ghcr.io/example/runestone:1.0")
    assert pod["serviceAccountName"] == "runestone-vector-backup-docs"
    (job,) = pod["containers"]
    assert job["command"] == ["runestone"]
    assert job["args"] == ["backup", "--vectorcluster", "docs"]
    assert pod["restartPolicy"] == "OnFailure"


def test_backup_job_pods_are_never_taken_for_members() -> None:
    labels = vector_backup.job_labels("docs")
    assert labels["app.kubernetes.io/instance"] == "docs"
    assert not all(labels.get(k) == v for k, v in MEMBERS.items())


def test_the_filesystem_backend_shares_one_claim_that_outlives_the_cluster() -> None:
    assert vector_backup.claim_name(OWNER, backup()) == "docs-backups"
    assert vector_backup.claim_name(OWNER, backup(volumeClaimName="shared")) == "shared"
    s3 = backup(backend="s3", s3={"bucket": "b-1", "credentialsSecretRef": {"name": "creds"}})
    assert vector_backup.claim_name(OWNER, s3) is None
    storage = vectorcluster.Storage.model_validate({"size": "5Gi", "storageClassName": "nfs"})
    claim = vector_backup.backup_claim(OWNER, storage)
    assert claim["metadata"]["name"] == "docs-backups"
    assert "ownerReferences" not in claim["metadata"]
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "5Gi"}},
        "storageClassName": "nfs",
    }


# -- identities -----------------------------------------------------------------------------------


def test_members_may_only_report_their_own_readiness() -> None:
    account, role, binding = vector_access.member_identity(OWNER)
    assert account["metadata"]["name"] == "runestone-vector-docs"
    assert {tuple(r["resources"]) for r in role["rules"]} == {("pods",), ("pods/status",)}
    assert all(set(r["verbs"]) <= {"get", "patch"} for r in role["rules"])
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "runestone-vector-docs", "namespace": "team"}
    ]


def test_the_backup_job_may_only_annotate_its_own_vectorcluster() -> None:
    account, role, binding = vector_access.backup_identity(OWNER)
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
