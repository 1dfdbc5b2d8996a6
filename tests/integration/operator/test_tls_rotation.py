"""The operator's serving certificate is replaced before it expires, by the same CA and for the
same names, without touching the pods (the gateway re-reads its mounted TLS files)."""

from __future__ import annotations

import base64
import datetime

from kubernetes import client

from devcluster.kube import eventually
from integration.operator import objects
from runestone_operator.core import pki
from runestone_operator.gateway import names

LIFETIME = pki.Lifetime(datetime.timedelta(seconds=60), datetime.timedelta(seconds=45))


def _tls(core: client.CoreV1Api, namespace: str, gateway: str = "short") -> dict[str, str]:
    data = core.read_namespaced_secret(names.tls_secret(gateway), namespace).data
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def _issued(core: client.CoreV1Api, namespace: str, text: str) -> list[str]:
    events = core.list_namespaced_event(namespace, field_selector="reason=CertificateIssued")
    return [event.message for event in events.items if text in event.message]


def test_short_lived_certificate_is_rotated_before_expiry(
    kube_api: client.ApiClient, namespace: str
) -> None:
    core, apps = client.CoreV1Api(kube_api), client.AppsV1Api(kube_api)
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(
        kube_api,
        namespace,
        objects.gateway(
            "short", tls={"mode": "selfSigned", "duration": "60s", "renewBefore": "45s"}
        ),
    )
    first = eventually(lambda: _tls(core, namespace), timeout=60, what="the TLS Secret")
    first_info = pki.inspect(first["tls.crt"])
    assert first_info.not_after - first_info.not_before == LIFETIME.duration
    deployment = eventually(
        lambda: apps.read_namespaced_deployment("short", namespace), what="the Deployment"
    )

    def replaced() -> dict[str, str]:
        current = _tls(core, namespace)
        assert pki.inspect(current["tls.crt"]).serial != first_info.serial
        return current

    second = eventually(replaced, timeout=120, interval=0.5, what="the certificate to be rotated")
    second_info = pki.inspect(second["tls.crt"])
    # Issued while the old certificate was still valid, and for a full new lifetime.
    assert second_info.not_before < first_info.not_after
    assert second_info.not_after > first_info.not_after
    assert second_info.dns_names == frozenset(names.service_dns_names("short", namespace))
    # Same CA, so clients keep trusting the gateway across the rotation.
    assert second["ca.crt"] == first["ca.crt"]
    ca = core.read_namespaced_secret("short-ca", namespace).data["ca.crt"]
    assert base64.b64decode(ca).decode() == first["ca.crt"]
    # Signed by that CA, and its key matches (judged as of its first second of validity).
    assert pki.serving_is_usable(
        pki.KeyPair(second["tls.crt"], second["tls.key"]),
        pki.KeyPair(first["ca.crt"], "the CA key is not needed to verify"),
        names.service_dns_names("short", namespace),
        second_info.not_before,
        LIFETIME,
    )
    # No restart: the pod template did not change.
    assert (
        apps.read_namespaced_deployment("short", namespace).metadata.generation
        == deployment.metadata.generation
    )
    # Events are posted once the reconcile ends, a moment after the Secret is written.
    eventually(
        lambda: len(_issued(core, namespace, "serving certificate")) >= 2,
        what="an Event for each serving certificate",
    )


OVERLAP_LIFETIME = pki.Lifetime(datetime.timedelta(seconds=40), datetime.timedelta(seconds=20))
DUE_IN = datetime.timedelta(seconds=15)


def _secret(core: client.CoreV1Api, namespace: str, name: str) -> dict[str, str]:
    data = core.read_namespaced_secret(name, namespace).data
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def _ca_bundle(core: client.CoreV1Api, namespace: str, name: str) -> list[str]:
    """The published bundle (which holds no key), checked against the CA the operator keeps."""
    published = _secret(core, namespace, names.ca_secret(name))
    assert set(published) == {"ca.crt"}
    signer = _secret(core, namespace, names.ca_key_secret(name))
    authority = pki.with_bundle(
        pki.KeyPair(signer["tls.crt"], signer["tls.key"]), published["ca.crt"]
    )
    assert authority.bundle == published["ca.crt"], "the signing CA is not first in the bundle"
    return list(authority.trusted)


def _put_ca(core: client.CoreV1Api, namespace: str, name: str, ca: pki.KeyPair) -> None:
    """The CA in place as the operator keeps it: its key apart, the bundle published."""
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=names.ca_key_secret(name)),
            type="kubernetes.io/tls",
            string_data={"tls.crt": ca.cert_pem, "tls.key": ca.key_pem},
        ),
    )
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=names.ca_secret(name)),
            string_data={"ca.crt": ca.cert_pem},
        ),
    )


def _signed_by(serving: dict[str, str], ca_pem: str, dns_names: list[str]) -> bool:
    """Judged as of the certificate's first second, so only issuer, names and key count."""
    pair = pki.KeyPair(serving["tls.crt"], serving["tls.key"])
    since = pki.inspect(pair.cert_pem).not_before
    return pki.serving_is_trusted(pair, [ca_pem], dns_names, since, OVERLAP_LIFETIME)


def test_ca_rotation_keeps_clients_of_the_old_ca_working_through_an_overlap(
    kube_api: client.ApiClient, namespace: str
) -> None:
    """A CA nine lifetimes old (put in place by the test) is rotated: the new and the old CA are
    published together, the old CA's last serving certificate is served until it is due, then
    one from the new CA; the old CA leaves the bundle when it expires."""
    core, apps = client.CoreV1Api(kube_api), client.AppsV1Api(kube_api)
    life = OVERLAP_LIFETIME
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    dns_names = names.service_dns_names("overlap", namespace)
    old_ca = pki.issue_ca(
        "an ageing CA",
        now - life.ca_duration + life.ca_renew_before + DUE_IN,
        life.ca_duration,
        dns_names,
    )
    rotation_due = pki.renewal_due(old_ca.cert_pem, life.ca_renew_before)
    _put_ca(core, namespace, "overlap", old_ca)
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(
        kube_api,
        namespace,
        objects.gateway(
            "overlap", tls={"mode": "selfSigned", "duration": "40s", "renewBefore": "20s"}
        ),
    )

    def tls() -> dict[str, str]:
        return _tls(core, namespace, "overlap")

    first = eventually(tls, timeout=60, what="the TLS Secret")
    assert _signed_by(first, old_ca.cert_pem, dns_names)
    assert first["ca.crt"] == old_ca.cert_pem
    deployment = eventually(
        lambda: apps.read_namespaced_deployment("overlap", namespace), what="the Deployment"
    )

    # The rotation: both CAs published, the new one first; still served: the old CA's certificate.
    def overlapping() -> list[str]:
        bundle = _ca_bundle(core, namespace, "overlap")
        assert len(bundle) == 2, f"{len(bundle)} CAs published"
        return bundle

    new_ca_pem, retired = eventually(overlapping, timeout=90, interval=0.5, what="the rotation")
    assert datetime.datetime.now(datetime.UTC) >= rotation_due
    assert retired == old_ca.cert_pem
    during = tls()
    assert during["ca.crt"] == new_ca_pem + old_ca.cert_pem
    assert _signed_by(during, old_ca.cert_pem, dns_names)  # a client knowing only the old CA
    assert not _signed_by(during, new_ca_pem, dns_names)
    last_from_old = pki.inspect(during["tls.crt"])

    # When that certificate is due, the new CA's replaces it; the old CA is still published.
    def from_new_ca() -> dict[str, str]:
        current = tls()
        assert _signed_by(current, new_ca_pem, dns_names), "still the old CA's certificate"
        return current

    after = eventually(from_new_ca, timeout=90, interval=0.5, what="the new CA's certificate")
    assert pki.inspect(after["tls.crt"]).not_before >= last_from_old.not_after - life.renew_before
    assert after["ca.crt"] == new_ca_pem + old_ca.cert_pem
    old_expiry = pki.inspect(old_ca.cert_pem).not_after
    assert datetime.datetime.now(datetime.UTC) < old_expiry  # the bundle still trusts both

    # Once the old CA expires (after everything it signed), it leaves the bundle.
    eventually(
        lambda: _ca_bundle(core, namespace, "overlap") == [new_ca_pem],
        timeout=120,
        interval=1,
        what="the old CA to leave the bundle",
    )
    assert datetime.datetime.now(datetime.UTC) >= old_expiry
    assert tls()["ca.crt"] == new_ca_pem
    assert _issued(core, namespace, "previous CA stays trusted")
    # No restart: the pod template did not change.
    assert (
        apps.read_namespaced_deployment("overlap", namespace).metadata.generation
        == deployment.metadata.generation
    )


def test_a_ca_kept_with_its_key_in_the_published_secret_is_migrated_with_an_overlap(
    kube_api: client.ApiClient, namespace: str
) -> None:
    """An install from before the CA's key moved out: `<name>-ca` (type kubernetes.io/tls)
    holds the key of a CA without name constraints. That CA is replaced by a constrained one at
    once, with the overlap of any rotation; `<name>-ca` then holds the bundle only, and the key
    lives in `<name>-ca-key`. The served certificate is still the old CA's until it is due, so
    clients that know only the old CA keep working while they pick up the bundle."""
    core = client.CoreV1Api(kube_api)
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    legacy = pki.issue_ca("runestone legacy CA", now, datetime.timedelta(days=900))
    dns_names = names.service_dns_names("legacy", namespace)
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=names.ca_secret("legacy")),
            type="kubernetes.io/tls",
            string_data={
                "tls.crt": legacy.cert_pem,
                "tls.key": legacy.key_pem,
                "ca.crt": legacy.cert_pem,
            },
        ),
    )
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(kube_api, namespace, objects.gateway("legacy", tls={"mode": "selfSigned"}))

    def migrated() -> list[str]:
        published = core.read_namespaced_secret(names.ca_secret("legacy"), namespace)
        assert published.type == "Opaque", f"still {published.type}"
        return _ca_bundle(core, namespace, "legacy")

    new_ca, retired = eventually(migrated, timeout=60, what="the CA Secret to be migrated")
    assert retired == legacy.cert_pem
    assert pki.constrained_to(new_ca, dns_names)
    assert not pki.constrained_to(legacy.cert_pem, dns_names)
    serving = _tls(core, namespace, "legacy")
    assert serving["ca.crt"] == new_ca + legacy.cert_pem
    assert _signed_by(serving, legacy.cert_pem, dns_names)  # the old CA's last certificate
    everything = str(core.read_namespaced_secret(names.ca_secret("legacy"), namespace).data)
    assert base64.b64encode(legacy.key_pem.encode()).decode() not in everything
    signer = _secret(core, namespace, names.ca_key_secret("legacy"))
    assert legacy.key_pem not in signer.values()
    eventually(lambda: _issued(core, namespace, "previous CA stays trusted"), what="the Event")
