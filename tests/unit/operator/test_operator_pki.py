"""The operator PKI: issuing, and when a CA or serving certificate must be replaced."""

from __future__ import annotations

import datetime

import pytest

from runestone_operator import pki

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
LIFE = pki.Lifetime(
    duration=datetime.timedelta(seconds=60), renew_before=datetime.timedelta(seconds=40)
)
NAMES = ["main", "main.team", "main.team.svc", "main.team.svc.cluster.local"]


@pytest.fixture(scope="module")
def ca() -> pki.KeyPair:
    return pki.issue_ca("test CA", NOW, LIFE.ca_duration)


def test_serving_certificate_names_and_validity(ca: pki.KeyPair) -> None:
    serving = pki.issue_serving(ca, NAMES, NOW, LIFE.duration)
    info = pki.inspect(serving.cert_pem)
    assert info.dns_names == frozenset(NAMES)
    assert info.not_before == NOW
    assert info.not_after == NOW + LIFE.duration
    assert pki.serving_is_usable(serving, ca, NAMES, NOW, LIFE)


def test_renewed_before_expiry(ca: pki.KeyPair) -> None:
    serving = pki.issue_serving(ca, NAMES, NOW, LIFE.duration)
    assert pki.renewal_due(serving.cert_pem, LIFE.renew_before) == NOW + datetime.timedelta(
        seconds=20
    )
    assert pki.serving_is_usable(serving, ca, NAMES, NOW + datetime.timedelta(seconds=19), LIFE)
    # Due for renewal while still valid: replaced before it expires.
    assert not pki.serving_is_usable(serving, ca, NAMES, NOW + datetime.timedelta(seconds=20), LIFE)


def test_other_names_or_issuer_or_key_mean_reissue(ca: pki.KeyPair) -> None:
    serving = pki.issue_serving(ca, NAMES, NOW, LIFE.duration)
    assert not pki.serving_is_usable(serving, ca, [*NAMES, "extra"], NOW, LIFE)
    other_ca = pki.issue_ca("other", NOW, LIFE.ca_duration)
    assert not pki.serving_is_usable(serving, other_ca, NAMES, NOW, LIFE)
    other = pki.issue_serving(ca, NAMES, NOW, LIFE.duration)
    mixed = pki.KeyPair(serving.cert_pem, other.key_pem)
    assert not pki.serving_is_usable(mixed, ca, NAMES, NOW, LIFE)
    assert not pki.serving_is_usable(pki.KeyPair("junk", "junk"), ca, NAMES, NOW, LIFE)
    assert not pki.serving_is_usable(None, ca, NAMES, NOW, LIFE)


def test_ca_is_replaced_while_it_can_still_outlive_a_serving_certificate(ca: pki.KeyPair) -> None:
    assert pki.ca_is_usable(ca, NOW, LIFE)
    last_safe = NOW + LIFE.ca_duration - LIFE.ca_renew_before - datetime.timedelta(seconds=1)
    assert pki.ca_is_usable(ca, last_safe, LIFE)
    assert not pki.ca_is_usable(ca, last_safe + datetime.timedelta(seconds=1), LIFE)
    assert not pki.ca_is_usable(None, NOW, LIFE)


def test_serving_certificate_never_outlives_its_ca() -> None:
    short_ca = pki.issue_ca("short", NOW, datetime.timedelta(seconds=30))
    serving = pki.issue_serving(short_ca, NAMES, NOW, datetime.timedelta(hours=1))
    assert pki.inspect(serving.cert_pem).not_after == NOW + datetime.timedelta(seconds=30)


def test_repr_hides_the_private_key(ca: pki.KeyPair) -> None:
    assert "PRIVATE" not in repr(ca)


def test_long_names_fit_in_a_certificate() -> None:
    # A regression: a CA named after a long namespace and gateway exceeded X.509's 64 characters.
    long_ca = pki.issue_ca("runestone " + "n" * 63 + "/" + "g" * 63 + " CA", NOW, LIFE.ca_duration)
    dns = ["g" * 63, "g" * 63 + "." + "n" * 63 + ".svc"]
    serving = pki.issue_serving(long_ca, dns, NOW, LIFE.duration)
    assert pki.inspect(serving.cert_pem).dns_names == frozenset(dns)
