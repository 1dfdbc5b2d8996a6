"""The operator's own small PKI for `tls.mode: selfSigned`: a CA per Gateway and a serving
certificate for the Service's DNS names, and the decisions of when to replace either.

No I/O: the clock is an argument, PEM text goes in and out. Keys are ECDSA P-256."""

from __future__ import annotations

import datetime
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


def issue_ca(common_name: str, now: datetime.datetime, validity: datetime.timedelta) -> KeyPair:
    key = _new_key()
    subject = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
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


def ca_is_usable(ca: KeyPair | None, now: datetime.datetime, lifetime: Lifetime) -> bool:
    """True when `ca` can keep signing: well-formed, its key matches, not due for renewal."""
    if ca is None:
        return False
    try:
        info = inspect(ca.cert_pem)
        return _key_matches(ca) and info.not_after - now > lifetime.ca_renew_before
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
    if serving is None:
        return False
    try:
        info = inspect(serving.cert_pem)
        return (
            info.dns_names == frozenset(dns_names)
            and info.not_after - now > lifetime.renew_before
            and _signed_by(serving.cert_pem, ca.cert_pem)
            and _key_matches(serving)
        )
    except ValueError:
        return False


def renewal_due(cert_pem: str, renew_before: datetime.timedelta) -> datetime.datetime:
    """The instant at which a certificate is replaced."""
    return inspect(cert_pem).not_after - renew_before
