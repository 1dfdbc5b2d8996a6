"""A VectorCluster's CA is replaced the way a Gateway's is (the one TLS step both run): the new
and the old CA are published together, the old CA signs one last serving certificate, which the
members roll onto, and only when that one is due does a certificate of the new CA replace it.
A client that queries the members all along with an issued key, re-reading the ca.crt bundle as
documented, sees no failure; one that kept only the old CA would be refused at the end."""

from __future__ import annotations

import datetime
import time

import pytest
from kubernetes import client

from devcluster.kube import eventually
from integration.vectorcluster import vectorclusters
from integration.vectorcluster.vectorclusters import COLLECTION, Clusters, Load
from runestone_operator.core import pki
from runestone_operator.vectorcluster import names

NAME = "rotca"
LIFE = pki.Lifetime(datetime.timedelta(minutes=5), datetime.timedelta(minutes=2))
"""Serving certificates live 5 minutes and are replaced after 3: longer than a rolling restart
of three members here (about a minute), so each certificate is served everywhere before the next
one comes."""
DUE_IN = datetime.timedelta(seconds=150)
"""The CA the test puts in place is due for replacement this long after the test starts."""


def _bundle(clusters: Clusters) -> list[str]:
    return vectorclusters.certificates(clusters.secret_value(f"{NAME}-tls", "ca.crt"))


def _two_cas(clusters: Clusters) -> list[str]:
    found = _bundle(clusters)
    return found if len(found) == 2 else []


def _roll_done(clusters: Clusters) -> None:
    clusters.wait_condition(NAME, "Progressing", "True", timeout=120, reason="RollingOut")
    clusters.wait_condition(NAME, "Progressing", "False", timeout=600)
    clusters.wait_condition(NAME, "Ready", "True", timeout=300)


@pytest.mark.timeout(1800)
def test_ca_rotation_overlaps_while_clients_keep_querying(
    clusters: Clusters, kube_api: client.ApiClient
) -> None:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    old_ca = pki.issue_ca(
        "an ageing CA",
        now - LIFE.ca_duration + LIFE.ca_renew_before + DUE_IN,
        LIFE.ca_duration,
        names.serving_dns_names(NAME, clusters.namespace),
    )
    rotation_due = pki.renewal_due(old_ca.cert_pem, LIFE.ca_renew_before)
    # In place as the operator keeps a CA: its key apart, the bundle published.
    clusters.core.create_namespaced_secret(
        clusters.namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=names.ca_key_secret(NAME)),
            type="kubernetes.io/tls",
            string_data={"tls.crt": old_ca.cert_pem, "tls.key": old_ca.key_pem},
        ),
    )
    clusters.core.create_namespaced_secret(
        clusters.namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=names.ca_secret(NAME)),
            string_data={"ca.crt": old_ca.cert_pem},
        ),
    )
    tls = {"mode": "selfSigned", "duration": "5m", "renewBefore": "2m"}
    clusters.create(NAME, vectorclusters.spec(replicationFactor=3, tls=tls))
    clusters.wait_condition(NAME, "Ready", "True", timeout=400)
    assert datetime.datetime.now(datetime.UTC) < rotation_due, "the cluster came up too slowly"
    assert _bundle(clusters) == [old_ca.cert_pem]
    assert clusters.all_serve_from(NAME, 3, old_ca.cert_pem)
    key = clusters.key(NAME, "gateway")
    admin = clusters.member(NAME, f"{NAME}-0", key)
    admin.create_collection(COLLECTION, replication_factor=3)
    admin.insert(COLLECTION, vectorclusters.objects(60))
    vectorclusters.wait_indexed(admin)
    ids = admin.object_ids(COLLECTION)

    load = Load(clusters, NAME, key, ids, trust_refresh=2.0)
    with load.running():
        # The rotation: both CAs published, the new one first.
        bundle = eventually(
            lambda: _two_cas(clusters),
            timeout=DUE_IN.total_seconds() + 120,
            interval=1,
            what="the new CA next to the old one",
        )
        rotated = time.monotonic()
        assert datetime.datetime.now(datetime.UTC) >= rotation_due
        new_ca_pem, retired = bundle
        assert retired == old_ca.cert_pem
        # The members roll onto the old CA's last certificate: clients that have not re-read the
        # bundle yet still trust every member.
        _roll_done(clusters)
        assert clusters.all_serve_from(NAME, 3, old_ca.cert_pem)
        print(f"members on the old CA's last certificate {time.monotonic() - rotated:.0f}s after")
        # When it is due, the new CA's certificate replaces it, member by member.
        eventually(
            lambda: clusters.all_serve_from(NAME, 3, new_ca_pem),
            timeout=LIFE.duration.total_seconds(),
            interval=2,
            what="every member serving the new CA's certificate",
        )
        clusters.wait_condition(NAME, "Progressing", "False", timeout=600)
        clusters.wait_condition(NAME, "Ready", "True", timeout=300)
        print(f"members on the new CA {time.monotonic() - rotated:.0f}s after the rotation")
        time.sleep(5)
    print(load.summary())
    assert load.failed == []
    assert load.sent > 300
    assert load.fewest_ready >= 2
    assert _bundle(clusters) == [new_ca_pem, old_ca.cert_pem]  # the old CA has not expired yet

    # A client that kept only the old CA is refused now: the members really moved on.
    assert clusters.refuses_a_client_trusting_only(NAME, key, old_ca.cert_pem)
    issued = clusters.core.list_namespaced_event(
        clusters.namespace, field_selector=f"involvedObject.name={NAME},reason=CertificateIssued"
    ).items
    assert any("previous CA stays trusted" in str(event.message) for event in issued)
