"""The operator's own small PKI for `tls.mode: selfSigned`: a CA per object (a Gateway, a
VectorCluster) and a serving certificate for its DNS names, and the decisions of when to replace
either.

A CA is replaced with an overlap, so that clients holding only the old CA keep working while they
pick up the new one: from the moment the new CA exists, both are published as the trust bundle,
and the old CA signs one last serving certificate, which is served until it is due for renewal
(`duration - renewBefore` later); only then does a certificate signed by the new CA replace it.
The old CA stays in the bundle until it expires, which is after every certificate it signed.

A CA is constrained to the names it signs for (X.509 name constraints: the object's DNS names and
their subdomains; no IP address at all), so its key, should it leak, cannot be used to
impersonate anything else to a client that trusts the bundle. A CA without those constraints
(one issued before them) is replaced the same way, with an overlap.

No I/O: the clock is an argument, PEM text goes in and out. Keys are ECDSA P-256."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MAX_COMMON_NAME = 64
CA_VALIDITY_FACTOR = 10
"""A CA lives ten serving-certificate lifetimes."""


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, PEM-encoded."""

    cert_pem: str
    key_pem: str

    def __repr__(self) -> str:  # never print a private key
        return "KeyPair(<pem>)"


@dataclass(frozen=True)
class Lifetime:
    """How long serving certificates live and how early they are replaced."""

    duration: datetime.timedelta
    renew_before: datetime.timedelta

    @property
    def ca_duration(self) -> datetime.timedelta:
        return self.duration * CA_VALIDITY_FACTOR

    @property
    def ca_renew_before(self) -> datetime.timedelta:
        # Replace the CA while it can still outlive a whole serving certificate.
        return self.duration + self.renew_before


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _name(common_name: str) -> x509.Name:
    # X.509 caps a common name at 64 characters; names only label, SANs are what clients check.
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:MAX_COMMON_NAME])])


_EVERY_IP = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


def permitted_subtrees(dns_names: Sequence[str]) -> list[str]:
    """The DNS subtrees a CA for `dns_names` may sign in: each name (a wildcard's parent), which
    also covers its subdomains."""
    return sorted({name.removeprefix("*.") for name in dns_names})


def _name_constraints(dns_names: Sequence[str]) -> x509.NameConstraints:
    return x509.NameConstraints(
        permitted_subtrees=[x509.DNSName(name) for name in permitted_subtrees(dns_names)],
        excluded_subtrees=[x509.IPAddress(network) for network in _EVERY_IP],
    )


def issue_ca(
    common_name: str,
    now: datetime.datetime,
    validity: datetime.timedelta,
    dns_names: Sequence[str] | None = None,
) -> KeyPair:
    """A CA that signs only for `dns_names` (None: anything, as a stand-in for another issuer
    in tests)."""
    key = _new_key()
    subject = _name(common_name)
    builder = x509.CertificateBuilder()
    if dns_names is not None:
        builder = builder.add_extension(_name_constraints(dns_names), critical=True)
    cert = (
        builder.subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(_cert_pem(cert), _key_pem(key))


def issue_serving(
    ca: KeyPair, dns_names: Sequence[str], now: datetime.datetime, validity: datetime.timedelta
) -> KeyPair:
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())
    ca_key = serialization.load_pem_private_key(ca.key_pem.encode(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key is not an ECDSA key")
    key = _new_key()
    not_after = min(now + validity, ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_names[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return KeyPair(_cert_pem(cert), _key_pem(key))


@dataclass(frozen=True)
class CertInfo:
    """What the renewal decisions need to know about a certificate."""

    not_before: datetime.datetime
    not_after: datetime.datetime
    dns_names: frozenset[str]
    serial: int


def inspect(cert_pem: str) -> CertInfo:
    """ValueError when `cert_pem` is not a PEM certificate."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        dns_names = frozenset(san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        dns_names = frozenset()
    return CertInfo(
        cert.not_valid_before_utc, cert.not_valid_after_utc, dns_names, cert.serial_number
    )


def _signed_by(cert_pem: str, ca_pem: str) -> bool:
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _key_matches(pair: KeyPair) -> bool:
    cert = x509.load_pem_x509_certificate(pair.cert_pem.encode())
    key = serialization.load_pem_private_key(pair.key_pem.encode(), password=None)
    return cert.public_key() == key.public_key()


def constrained_to(ca_pem: str, dns_names: Sequence[str]) -> bool:
    """True when the CA certificate carries name constraints that permit every one of
    `dns_names` and exclude every IP address (what `issue_ca` writes)."""
    try:
        cert = x509.load_pem_x509_certificate(ca_pem.encode())
        constraints = cert.extensions.get_extension_for_class(x509.NameConstraints).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    permitted = {
        subtree.value
        for subtree in constraints.permitted_subtrees or []
        if isinstance(subtree, x509.DNSName)
    }
    excluded = {
        subtree.value
        for subtree in constraints.excluded_subtrees or []
        if isinstance(subtree, x509.IPAddress)
    }
    return set(permitted_subtrees(dns_names)) <= permitted and set(_EVERY_IP) <= excluded


def ca_is_usable(
    ca: KeyPair | None, now: datetime.datetime, lifetime: Lifetime, dns_names: Sequence[str]
) -> bool:
    """True when `ca` can keep signing for `dns_names`: well-formed, constrained to them, its
    key matches, not due for renewal."""
    if ca is None:
        return False
    try:
        info = inspect(ca.cert_pem)
        return (
            _key_matches(ca)
            and constrained_to(ca.cert_pem, dns_names)
            and info.not_after - now > lifetime.ca_renew_before
        )
    except ValueError:
        return False


def serving_is_usable(
    serving: KeyPair | None,
    ca: KeyPair,
    dns_names: Sequence[str],
    now: datetime.datetime,
    lifetime: Lifetime,
) -> bool:
    """True when `serving` may stay: signed by `ca`, for exactly `dns_names`, key matching, and
    more than `renew_before` left of its validity."""
    return serving_is_trusted(serving, [ca.cert_pem], dns_names, now, lifetime)


def renewal_due(cert_pem: str, renew_before: datetime.timedelta) -> datetime.datetime:
    """The instant at which a certificate is replaced."""
    return inspect(cert_pem).not_after - renew_before


@dataclass(frozen=True)
class Authority:
    """An object's CA: `signer` signs new serving certificates; `retired` are the CAs it replaced,
    still trusted (PEM certificates only, no keys) until each expires."""

    signer: KeyPair
    retired: tuple[str, ...] = ()

    @property
    def trusted(self) -> tuple[str, ...]:
        return (self.signer.cert_pem, *self.retired)

    @property
    def bundle(self) -> str:
        """Every trusted CA certificate, the signer first: what clients should trust."""
        return "".join(_with_newline(cert) for cert in self.trusted)


def _with_newline(pem: str) -> str:
    return pem if pem.endswith("\n") else pem + "\n"


def authority(bundle_pem: str, key_pem: str) -> Authority | None:
    """The CA a Secret holds: its certificate bundle (signer first) and the signer's key; None
    when the bundle holds no certificate."""
    try:
        certs = x509.load_pem_x509_certificates(bundle_pem.encode())
    except ValueError:
        return None
    if not certs or not key_pem:
        return None
    pems = [_cert_pem(cert) for cert in certs]
    return Authority(KeyPair(pems[0], key_pem), tuple(pems[1:]))


def with_bundle(signer: KeyPair, bundle_pem: str) -> Authority:
    """The CA whose signer is `signer`, and the CAs it replaced: those of the published
    `bundle_pem` other than the signer (none when it holds no certificate)."""
    try:
        certs = [_cert_pem(cert) for cert in x509.load_pem_x509_certificates(bundle_pem.encode())]
    except ValueError:
        certs = []
    with contextlib.suppress(ValueError):  # else kept as it is, for `renew` to replace
        signer = KeyPair(
            _cert_pem(x509.load_pem_x509_certificate(signer.cert_pem.encode())), signer.key_pem
        )
    return Authority(signer, tuple(cert for cert in certs if cert != signer.cert_pem))


def _trustable_ca(cert_pem: str, now: datetime.datetime) -> bool:
    """A well-formed CA certificate that has not expired."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    return constraints.ca and cert.not_valid_after_utc > now


def _can_sign(ca: KeyPair, now: datetime.datetime) -> bool:
    try:
        return _key_matches(ca) and inspect(ca.cert_pem).not_after > now
    except ValueError:
        return False


def serving_is_trusted(
    serving: KeyPair | None,
    trusted: Sequence[str],
    dns_names: Sequence[str],
    now: datetime.datetime,
    lifetime: Lifetime,
) -> bool:
    """`serving_is_usable` for a serving certificate signed by any of the `trusted` CAs."""
    if serving is None:
        return False
    try:
        info = inspect(serving.cert_pem)
        return (
            info.dns_names == frozenset(dns_names)
            and info.not_after - now > lifetime.renew_before
            and any(_signed_by(serving.cert_pem, ca) for ca in trusted)
            and _key_matches(serving)
        )
    except ValueError:
        return False


@dataclass(frozen=True)
class Renewal:
    """The CA and serving certificate to publish, what was newly issued, and when to look again."""

    authority: Authority
    serving: KeyPair
    renew_at: datetime.datetime
    new_ca: bool = False
    new_serving: bool = False


def renew(
    current: Authority | None,
    serving: KeyPair | None,
    common_name: str,
    dns_names: Sequence[str],
    now: datetime.datetime,
    lifetime: Lifetime,
) -> Renewal:
    """Keep what is still good, replace what is due (see the module's note on CA overlap)."""
    retired: tuple[str, ...] = ()
    signer = current.signer if current is not None else None
    if current is not None:
        retired = tuple(
            dict.fromkeys(
                cert
                for cert in current.retired
                if cert != current.signer.cert_pem and _trustable_ca(cert, now)
            )
        )
    new_ca = new_serving = False
    if signer is None or not ca_is_usable(signer, now, lifetime, dns_names):
        if signer is not None and _trustable_ca(signer.cert_pem, now):
            retired = (signer.cert_pem, *retired)
            if _can_sign(signer, now):
                serving = issue_serving(signer, dns_names, now, lifetime.duration)
                new_serving = True
        signer = issue_ca(common_name, now, lifetime.ca_duration, dns_names)
        new_ca = True
    ca = Authority(signer, retired)
    if serving is None or not serving_is_trusted(serving, ca.trusted, dns_names, now, lifetime):
        serving = issue_serving(signer, dns_names, now, lifetime.duration)
        new_serving = True
    renew_at = min(
        renewal_due(serving.cert_pem, lifetime.renew_before),
        renewal_due(signer.cert_pem, lifetime.ca_renew_before),
        *(inspect(cert).not_after for cert in retired),
    )
    return Renewal(ca, serving, renew_at, new_ca, new_serving)
