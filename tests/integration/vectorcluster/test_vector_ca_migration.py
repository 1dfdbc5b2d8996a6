"""An install from before the operator kept its CA's key apart: `<name>-ca` (type
kubernetes.io/tls) holds the key of a CA without name constraints, which clients also read the
bundle from. The operator migrates it with the overlap of any CA rotation: a constrained CA is
issued (its key in `<name>-ca-key`, which only the operator reads), the old CA signs one last
serving certificate, which the members roll onto, and `<name>-ca` is published again with the
bundle alone. Real Weaviate members, queried all along by a client that trusted the old CA when
it started and re-reads the published bundle as documented: no query fails."""

from __future__ import annotations

import base64
import datetime
import time
from collections.abc import Iterator

import pytest
from kubernetes import client

from devcluster import operator_process
from devcluster.kube import eventually, exists
from integration.vectorcluster import vectorclusters
from integration.vectorcluster.vectorclusters import COLLECTION, Clusters, Load
from runestone_operator.core import pki
from runestone_operator.vectorcluster import names

NAME = "migca"
MEMBERS = 3
LIFE = pki.Lifetime(datetime.timedelta(minutes=5), datetime.timedelta(minutes=2))
"""The new CA's first certificate replaces the old CA's last one three minutes after the
migration: long enough for the members to roll onto the old CA's last certificate first."""


def _published(clusters: Clusters) -> list[str]:
    """The bundle in `<name>-ca` once it is migrated (the bundle alone); [] before."""
    secret = clusters.core.read_namespaced_secret(names.ca_secret(NAME), clusters.namespace)
    if secret.type != "Opaque":
        return []
    assert set(secret.data) == {"ca.crt"}
    return vectorclusters.certificates(base64.b64decode(secret.data["ca.crt"]).decode())


def _secret(name: str, namespace: str, kind: str, data: dict[str, str]) -> client.V1Secret:
    return client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace), type=kind, string_data=data
    )


def _install_legacy_ca(clusters: Clusters) -> pki.KeyPair:
    """What the operator left before: the CA's key in `<name>-ca`, no `<name>-ca-key`, and the
    members' certificate from that CA. Returns the old CA."""
    namespace = clusters.namespace
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    legacy = pki.issue_ca(f"runestone {namespace}/{NAME} CA", now, datetime.timedelta(hours=2))
    serving = pki.issue_serving(
        legacy, names.serving_dns_names(NAME, namespace), now, datetime.timedelta(hours=1)
    )
    core = clusters.core
    core.delete_namespaced_secret(names.ca_key_secret(NAME), namespace)
    core.delete_namespaced_secret(names.ca_secret(NAME), namespace)
    eventually(
        lambda: not exists(core.read_namespaced_secret, names.ca_secret(NAME), namespace),
        what="the published CA Secret to go",
    )
    legacy_data = {"tls.crt": legacy.cert_pem, "tls.key": legacy.key_pem, "ca.crt": legacy.cert_pem}
    core.create_namespaced_secret(
        namespace, _secret(names.ca_secret(NAME), namespace, "kubernetes.io/tls", legacy_data)
    )
    tls_data = {"tls.crt": serving.cert_pem, "tls.key": serving.key_pem, "ca.crt": legacy.cert_pem}
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in tls_data.items()}
    core.patch_namespaced_secret(names.tls_secret(NAME), namespace, {"data": encoded})
    return legacy


def _restart_members(clusters: Clusters) -> None:
    """Restart the members one at a time, as the operator would, onto the certificate in
    `<name>-tls` (Weaviate reads it at start)."""
    for ordinal in reversed(range(MEMBERS)):
        pod = f"{NAME}-{ordinal}"
        uid = clusters.core.read_namespaced_pod(pod, clusters.namespace).metadata.uid

        def back(pod: str = pod, uid: str = uid) -> bool:
            found = clusters.core.read_namespaced_pod(pod, clusters.namespace)
            assert found.metadata.uid != uid, f"{pod} not replaced yet"
            assert clusters.gate(pod) == "True", f"{pod} not back in the cluster yet"
            return True

        clusters.core.delete_namespaced_pod(pod, clusters.namespace)
        eventually(back, timeout=300, interval=1, what=f"{pod} restarted and ready")


@pytest.fixture
def operator_held(operator: operator_process.OperatorProcess) -> Iterator[None]:
    """The session's operator, which the test stops to stage an older install and starts again;
    it runs again when the test ends, pass or fail."""
    try:
        yield
    finally:
        if not operator.alive():
            operator.start()


@pytest.mark.timeout(1800)
def test_a_ca_kept_with_its_key_is_migrated_while_clients_keep_querying(
    clusters: Clusters, operator: operator_process.OperatorProcess, operator_held: None
) -> None:
    tls = {"mode": "selfSigned", "duration": "5m", "renewBefore": "2m"}
    clusters.create(NAME, vectorclusters.spec(replicationFactor=MEMBERS, tls=tls))
    clusters.wait_condition(NAME, "Ready", "True", timeout=400)
    key = clusters.key(NAME, "gateway")
    admin = clusters.member(NAME, f"{NAME}-0", key)
    admin.create_collection(COLLECTION, replication_factor=MEMBERS)
    admin.insert(COLLECTION, vectorclusters.objects(60))
    vectorclusters.wait_indexed(admin)
    ids = admin.object_ids(COLLECTION)

    operator.stop()
    legacy = _install_legacy_ca(clusters)
    _restart_members(clusters)
    assert clusters.all_serve_from(NAME, MEMBERS, legacy.cert_pem)

    load = Load(clusters, NAME, key, ids, trust_refresh=2.0, trust_secret=names.ca_secret(NAME))
    with load.running():
        time.sleep(5)
        assert load.sent > 0
        assert load.failed == [], "queries failed on the old install already"
        operator.start()
        bundle = eventually(
            lambda: _published(clusters), timeout=120, interval=1, what="the migrated bundle"
        )
        migrated = time.monotonic()
        new_ca_pem, retired = bundle
        assert retired == legacy.cert_pem
        # The members roll onto the old CA's last certificate...
        clusters.wait_condition(NAME, "Progressing", "True", timeout=120, reason="RollingOut")
        clusters.wait_condition(NAME, "Progressing", "False", timeout=600)
        assert clusters.all_serve_from(NAME, MEMBERS, legacy.cert_pem)
        print(f"members on the old CA's last certificate {time.monotonic() - migrated:.0f}s after")
        # ... and, when it is due, onto the new CA's.
        eventually(
            lambda: clusters.all_serve_from(NAME, MEMBERS, new_ca_pem),
            timeout=LIFE.duration.total_seconds() + 300,
            interval=2,
            what="every member serving the new CA's certificate",
        )
        clusters.wait_condition(NAME, "Progressing", "False", timeout=600)
        clusters.wait_condition(NAME, "Ready", "True", timeout=300)
        time.sleep(5)
    print(load.summary())
    assert load.failed == []
    assert load.sent > 300
    assert load.fewest_ready >= MEMBERS - 1

    # The CA is constrained to the cluster's names; its key is kept apart, the old key nowhere.
    namespace = clusters.namespace
    assert pki.constrained_to(new_ca_pem, names.serving_dns_names(NAME, namespace))
    signer = clusters.core.read_namespaced_secret(names.ca_key_secret(NAME), namespace)
    assert base64.b64decode(signer.data["tls.crt"]).decode() == new_ca_pem
    for secret in clusters.core.list_namespaced_secret(namespace).items:
        for value in (secret.data or {}).values():
            assert legacy.key_pem not in base64.b64decode(value).decode(errors="replace")
    # A client that kept only the old CA is refused now: the members really moved on.
    assert clusters.refuses_a_client_trusting_only(NAME, key, legacy.cert_pem)
