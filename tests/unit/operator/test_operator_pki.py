"""The operator PKI: issuing, and when a CA or serving certificate must be replaced."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from runestone_operator.core import pki

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
LIFE = pki.Lifetime(
    duration=datetime.timedelta(seconds=60), renew_before=datetime.timedelta(seconds=40)
)
NAMES = ["main", "main.team", "main.team.svc", "main.team.svc.cluster.local"]
MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture(scope="module")
def ca() -> pki.KeyPair:
    return pki.issue_ca("test CA", NOW, LIFE.ca_duration, NAMES)


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
    assert pki.ca_is_usable(ca, NOW, LIFE, NAMES)
    last_safe = NOW + LIFE.ca_duration - LIFE.ca_renew_before - datetime.timedelta(seconds=1)
    assert pki.ca_is_usable(ca, last_safe, LIFE, NAMES)
    assert not pki.ca_is_usable(ca, last_safe + datetime.timedelta(seconds=1), LIFE, NAMES)
    assert not pki.ca_is_usable(None, NOW, LIFE, NAMES)


def test_a_ca_is_constrained_to_the_names_it_signs_for(ca: pki.KeyPair) -> None:
    """Whoever gets hold of the CA's key can sign for these names only, never for an IP."""
    cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())
    constraints = cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    assert constraints.value.permitted_subtrees == [x509.DNSName(name) for name in sorted(NAMES)]
    assert constraints.value.excluded_subtrees == [
        x509.IPAddress(ipaddress.ip_network("0.0.0.0/0")),
        x509.IPAddress(ipaddress.ip_network("::/0")),
    ]
    assert pki.constrained_to(ca.cert_pem, NAMES)
    assert not pki.constrained_to(ca.cert_pem, [*NAMES, "other.team.svc"])
    assert not pki.ca_is_usable(ca, NOW, LIFE, [*NAMES, "other.team.svc"])


def test_members_wildcard_names_are_constrained_to_their_subtree() -> None:
    members = ["docs", "*.docs-members.team.svc", "*.docs-members.team.svc.cluster.local"]
    ca = pki.issue_ca("c", NOW, LIFE.ca_duration, members)
    assert pki.constrained_to(ca.cert_pem, members)
    permitted = x509.load_pem_x509_certificate(ca.cert_pem.encode()).extensions
    names = permitted.get_extension_for_class(x509.NameConstraints).value.permitted_subtrees
    assert [n.value for n in names or []] == [
        "docs",
        "docs-members.team.svc",
        "docs-members.team.svc.cluster.local",
    ]


def test_a_ca_without_name_constraints_is_not_usable() -> None:
    """A CA from before name constraints (or a stand-in issuer's): replaced, with overlap."""
    unconstrained = pki.issue_ca("legacy", NOW, LIFE.ca_duration)
    assert not pki.constrained_to(unconstrained.cert_pem, NAMES)
    assert not pki.ca_is_usable(unconstrained, NOW, LIFE, NAMES)


def test_serving_certificate_never_outlives_its_ca() -> None:
    short_ca = pki.issue_ca("short", NOW, datetime.timedelta(seconds=30), NAMES)
    serving = pki.issue_serving(short_ca, NAMES, NOW, datetime.timedelta(hours=1))
    assert pki.inspect(serving.cert_pem).not_after == NOW + datetime.timedelta(seconds=30)


def test_repr_hides_the_private_key(ca: pki.KeyPair) -> None:
    assert "PRIVATE" not in repr(ca)


def test_long_names_fit_in_a_certificate() -> None:
    # A regression: a CA named after a long namespace and gateway exceeded X.509's 64 characters.
    dns = ["g" * 63, "g" * 63 + "." + "n" * 63 + ".svc"]
    long_ca = pki.issue_ca(
        "runestone " + "n" * 63 + "/" + "g" * 63 + " CA", NOW, LIFE.ca_duration, dns
    )
    serving = pki.issue_serving(long_ca, dns, NOW, LIFE.duration)
    assert pki.inspect(serving.cert_pem).dns_names == frozenset(dns)


# CA rotation with an overlap.

CN = "runestone team/main CA"


def _renew(
    current: pki.Authority | None, serving: pki.KeyPair | None, now: datetime.datetime
) -> pki.Renewal:
    return pki.renew(current, serving, CN, NAMES, now, LIFE)


def _signed_by(serving: pki.KeyPair, ca_pem: str, now: datetime.datetime) -> bool:
    return pki.serving_is_trusted(serving, [ca_pem], NAMES, now, LIFE)


def test_a_first_renewal_issues_a_ca_and_a_serving_certificate() -> None:
    first = _renew(None, None, NOW)
    assert (first.new_ca, first.new_serving) == (True, True)
    assert first.authority.retired == ()
    assert first.authority.bundle == first.authority.signer.cert_pem
    assert _signed_by(first.serving, first.authority.signer.cert_pem, NOW)
    assert first.renew_at == NOW + LIFE.duration - LIFE.renew_before

    again = _renew(first.authority, first.serving, NOW + datetime.timedelta(seconds=5))
    assert again == pki.Renewal(first.authority, first.serving, first.renew_at)


def test_ca_rotation_overlaps_old_and_new_ca() -> None:
    first = _renew(None, None, NOW)
    old_ca = first.authority.signer
    rotation = pki.renewal_due(old_ca.cert_pem, LIFE.ca_renew_before)
    assert (
        first.authority
        == _renew(first.authority, None, rotation - datetime.timedelta(seconds=1)).authority
    )

    # The CA is due: a new CA signs from now on, and both are trusted.
    rotated = _renew(first.authority, first.serving, rotation)
    assert (rotated.new_ca, rotated.new_serving) == (True, True)
    new_ca = rotated.authority.signer
    assert new_ca.cert_pem != old_ca.cert_pem
    assert rotated.authority.retired == (old_ca.cert_pem,)
    assert rotated.authority.bundle == new_ca.cert_pem + old_ca.cert_pem
    # The served certificate is the old CA's last one, for a whole lifetime: clients that only
    # know the old CA keep working while they pick up the bundle.
    last = rotated.serving
    assert _signed_by(last, old_ca.cert_pem, rotation)
    assert not _signed_by(last, new_ca.cert_pem, rotation)
    assert pki.inspect(last.cert_pem).not_after == rotation + LIFE.duration
    switch = rotation + LIFE.duration - LIFE.renew_before
    assert rotated.renew_at == switch

    # Kept (not re-signed by the new CA) until it is due for renewal.
    during = _renew(rotated.authority, last, switch - datetime.timedelta(seconds=1))
    assert during == pki.Renewal(rotated.authority, last, switch)

    # Then the new CA's certificate is served; the old CA stays trusted until it expires.
    switched = _renew(rotated.authority, last, switch)
    assert (switched.new_ca, switched.new_serving) == (False, True)
    assert switched.authority == rotated.authority
    assert _signed_by(switched.serving, new_ca.cert_pem, switch)
    old_expiry = pki.inspect(old_ca.cert_pem).not_after
    assert old_expiry == rotation + LIFE.ca_renew_before  # after the last certificate it signed
    assert switched.renew_at == min(old_expiry, switch + LIFE.duration - LIFE.renew_before)

    # Once expired, the old CA leaves the bundle.
    later = _renew(switched.authority, switched.serving, old_expiry)
    assert later.authority == pki.Authority(new_ca)
    assert later.authority.bundle == new_ca.cert_pem
    assert not later.new_ca


def test_a_ca_too_close_to_expiry_signs_no_last_certificate() -> None:
    first = _renew(None, None, NOW)
    old_ca = first.authority.signer
    old_expiry = pki.inspect(old_ca.cert_pem).not_after
    late = old_expiry - LIFE.renew_before  # the operator was away through the whole overlap
    rotated = _renew(first.authority, first.serving, late)
    assert rotated.new_ca
    assert _signed_by(rotated.serving, rotated.authority.signer.cert_pem, late)
    assert rotated.authority.retired == (old_ca.cert_pem,)  # still trusted until it expires


def test_a_ca_whose_key_no_longer_matches_is_replaced_and_signs_nothing() -> None:
    first = _renew(None, None, NOW)
    other = pki.issue_ca("other", NOW, LIFE.ca_duration, NAMES)
    broken = pki.Authority(pki.KeyPair(first.authority.signer.cert_pem, other.key_pem))
    renewed = _renew(broken, first.serving, NOW)
    assert (renewed.new_ca, renewed.new_serving) == (True, False)
    # What it signed stays served and trusted until due; the next certificate is the new CA's.
    assert renewed.authority.retired == (first.authority.signer.cert_pem,)
    assert renewed.serving == first.serving
    due = first.renew_at
    assert _signed_by(
        _renew(renewed.authority, first.serving, due).serving,
        renewed.authority.signer.cert_pem,
        due,
    )


def test_expired_or_malformed_retired_cas_are_dropped() -> None:
    first = _renew(None, None, NOW)
    expired = pki.issue_ca(
        "expired", NOW - datetime.timedelta(hours=2), datetime.timedelta(hours=1)
    )
    leaf = first.serving.cert_pem  # not a CA
    current = pki.Authority(first.authority.signer, (expired.cert_pem, leaf))
    renewed = _renew(current, first.serving, NOW)
    assert renewed.authority == first.authority
    assert not renewed.new_ca


def test_an_authority_reads_back_from_its_bundle() -> None:
    old = pki.issue_ca("old", NOW, LIFE.ca_duration)
    new = pki.issue_ca("new", NOW, LIFE.ca_duration)
    ca = pki.Authority(new, (old.cert_pem,))
    assert pki.authority(ca.bundle, new.key_pem) == ca
    assert pki.authority(new.cert_pem, new.key_pem) == pki.Authority(new)
    assert pki.authority("junk", new.key_pem) is None
    assert pki.authority("", new.key_pem) is None
    assert pki.authority(new.cert_pem, "") is None


def test_a_ca_without_name_constraints_is_migrated_with_an_overlap() -> None:
    """An install from before name constraints: its CA is replaced at once by a constrained
    one; the old CA signs one last serving certificate and stays in the bundle, so clients that
    know only the old CA keep working until they pick up the bundle."""
    legacy = pki.issue_ca(CN, NOW - datetime.timedelta(seconds=10), LIFE.ca_duration)
    serving = pki.issue_serving(legacy, NAMES, NOW - datetime.timedelta(seconds=5), LIFE.duration)
    migrated = _renew(pki.Authority(legacy), serving, NOW)
    assert (migrated.new_ca, migrated.new_serving) == (True, True)
    assert pki.constrained_to(migrated.authority.signer.cert_pem, NAMES)
    assert migrated.authority.retired == (legacy.cert_pem,)
    assert _signed_by(migrated.serving, legacy.cert_pem, NOW)
    assert migrated.renew_at == NOW + LIFE.duration - LIFE.renew_before
    settled = _renew(migrated.authority, migrated.serving, NOW + datetime.timedelta(seconds=1))
    assert not settled.new_ca


def _handshake(
    tmp: Path, serving: pki.KeyPair, trusted: str, server_hostname: str = "main.team.svc"
) -> bool:
    """A real TLS handshake in memory: does a client trusting `trusted` accept `serving`?"""
    (tmp / "tls.crt").write_text(serving.cert_pem)
    (tmp / "tls.key").write_text(serving.key_pem)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp / "tls.crt", tmp / "tls.key")
    client_context = ssl.create_default_context(cadata=trusted)
    pipes = [ssl.MemoryBIO() for _ in range(4)]
    client_context.check_hostname = False  # the chain is what is judged here
    client = client_context.wrap_bio(pipes[0], pipes[1], server_hostname=server_hostname)
    server = server_context.wrap_bio(pipes[2], pipes[3], server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, side in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError:
                    return False
        pipes[2].write(pipes[1].read())
        pipes[0].write(pipes[3].read())
        if all(done.values()):
            return True
    return False


def test_clients_keep_trusting_the_gateway_through_a_ca_rotation(tmp_path: Path) -> None:
    # OpenSSL checks validity against the real clock: a rotation a minute ago, of certificates
    # living an hour. Both CAs carry the same name, as the operator's do.
    life = pki.Lifetime(datetime.timedelta(hours=1), datetime.timedelta(minutes=20))
    rotation = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - MINUTE
    old_ca = pki.issue_ca(
        CN, rotation - life.ca_duration + life.ca_renew_before, life.ca_duration, NAMES
    )
    rotated = pki.renew(pki.Authority(old_ca), None, CN, NAMES, rotation, life)
    assert rotated.new_ca
    after_overlap = pki.issue_serving(rotated.authority.signer, NAMES, rotation, life.duration)
    old_only, bundle = old_ca.cert_pem, rotated.authority.bundle
    # During the overlap, the old CA's last certificate is served: old clients and new agree.
    assert _handshake(tmp_path, rotated.serving, old_only)
    assert _handshake(tmp_path, rotated.serving, bundle)
    # After it, the new CA's certificate: trusted by whoever picked up the bundle.
    assert _handshake(tmp_path, after_overlap, bundle)
    assert not _handshake(tmp_path, after_overlap, old_only)


def test_openssl_refuses_what_the_ca_signs_outside_its_names(tmp_path: Path) -> None:
    """The constraints hold where it matters, in a client's chain verification: a certificate
    the CA signed for another name, or for an IP address, is refused."""
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - MINUTE
    members = [*NAMES, "*.main-members.team.svc"]
    ca = pki.issue_ca(CN, now, datetime.timedelta(hours=2), members)
    hour = datetime.timedelta(hours=1)
    ours = pki.issue_serving(ca, members, now, hour)
    assert _handshake(tmp_path, ours, ca.cert_pem)
    assert _handshake(tmp_path, ours, ca.cert_pem, "main-1.main-members.team.svc")
    foreign = pki.issue_serving(ca, ["bank.example.com"], now, hour)
    assert not _handshake(tmp_path, foreign, ca.cert_pem, "bank.example.com")
    ip = _with_ip_san(ca, now, hour)
    assert not _handshake(tmp_path, ip, ca.cert_pem, "main")
    # The same certificates from a CA without constraints pass: the constraints refused them.
    unconstrained = pki.issue_ca(CN, now, datetime.timedelta(hours=2))
    foreign = pki.issue_serving(unconstrained, ["bank.example.com"], now, hour)
    assert _handshake(tmp_path, foreign, unconstrained.cert_pem, "bank.example.com")
    assert _handshake(tmp_path, _with_ip_san(unconstrained, now, hour), unconstrained.cert_pem)


def _with_ip_san(ca: pki.KeyPair, now: datetime.datetime, life: datetime.timedelta) -> pki.KeyPair:
    """A serving certificate for `main` and 10.0.0.1, signed by `ca` (not something the
    operator issues: what a holder of the key might try)."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())
    ca_key = serialization.load_pem_private_key(ca.key_pem.encode(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName("main"), x509.IPAddress(ipaddress.ip_address("10.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "main")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + life)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pki.KeyPair(cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem)
