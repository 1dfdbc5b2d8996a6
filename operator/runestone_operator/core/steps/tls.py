"""The serving certificate, per `spec.tls.mode`, for any kind that serves clients.

- none: no certificate; leftovers of the operator's own PKI are removed.
- selfSigned: an operator CA, constrained to the object's names, signs a serving certificate in
  `<name>-tls`; both are replaced before they expire, a CA with an overlap during which the old
  and the new CA are both trusted (`pki.renew`). The CA's key is in `<name>-ca-key`, which only
  the operator reads; the bundle clients trust is published on its own in `<name>-ca` (`ca.crt`,
  no key), and in `<name>-tls` next to the serving pair. Existing material is re-applied
  unchanged otherwise.

  Installs from before the key moved out kept it in `<name>-ca` (type kubernetes.io/tls, its
  CA without name constraints): that CA is replaced with the same overlap (it signs one last
  serving certificate and stays in the bundle, its key kept nowhere), and `<name>-ca` is
  re-created without the key (a Secret's type cannot change), so clients that trust the bundle
  never see a certificate they cannot verify.
- secret: the user's kubernetes.io/tls Secret, which must exist.
- certManager: a cert-manager Certificate writing `<name>-tls`, when cert-manager is installed.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runestone_operator.core import conditions, context, durations, events, models, pki, secrets
from runestone_operator.core.builders import tls as builders

DISCOVERY_MAX_AGE = 60.0
"""How old an answer to "is cert-manager installed?" may be when it only decides whether to look
for a Certificate to remove."""


@dataclass(frozen=True)
class Subject:
    """What a kind certifies, and the names of what holds it."""

    labels: Mapping[str, str]
    ca_secret: str
    """The published bundle (`ca.crt`)."""
    ca_key_secret: str
    """The signing CA's certificate and key."""
    tls_secret: str
    certificate: str
    """The cert-manager Certificate's name (mode certManager)."""
    dns_names: tuple[str, ...]
    retain: bool = False
    """Keep the CA (key and bundle) when the object is deleted: no owner reference, so that an
    object re-created under the same name adopts it and its clients keep trusting it."""


@dataclass(frozen=True)
class Serving:
    """What the workload mounts, and when this step must run again to renew it."""

    secret_name: str | None
    renew_at: datetime.datetime | None = None
    trust: str | None = None
    """The CA bundle a client trusts the server with (None: the system's trust store)."""
    fingerprint: str = ""
    """A digest of the serving certificate, for workloads that read it only at start."""


def lifetime(spec_tls: models.Tls) -> pki.Lifetime:
    return pki.Lifetime(
        duration=durations.parse(spec_tls.duration),
        renew_before=durations.parse(spec_tls.renew_before),
    )


def _pair(secret: Mapping[str, Any] | None) -> pki.KeyPair | None:
    cert, key = secrets.value(secret, "tls.crt"), secrets.value(secret, "tls.key")
    return pki.KeyPair(cert, key) if cert and key else None


def _current_authority(
    key_secret: Mapping[str, Any] | None, bundle_secret: Mapping[str, Any] | None
) -> pki.Authority | None:
    """The CA as published: the signer from `<name>-ca-key`, the CAs it replaced from the bundle;
    or, from an install before the key moved out, both from `<name>-ca` (tls.crt + tls.key)."""
    signer = _pair(key_secret)
    if signer is None:
        legacy = _pair(bundle_secret)
        return pki.authority(legacy.cert_pem, legacy.key_pem) if legacy is not None else None
    return pki.with_bundle(signer, secrets.value(bundle_secret, "ca.crt"))


def _fingerprint(cert_pem: str) -> str:
    return hashlib.sha256(cert_pem.encode()).hexdigest()


Ctx = context.Context[Any, Any]


async def _remove_own(ctx: Ctx, *secret_names: str) -> None:
    for name in secret_names:
        await context.delete_owned(ctx, "v1", "Secret", name)


async def _remove_certificate(ctx: Ctx, subject: Subject) -> None:
    if await ctx.kube.serves(builders.CERT_MANAGER_GROUP_VERSION, DISCOVERY_MAX_AGE):
        await context.remove_optional(
            ctx, builders.CERT_MANAGER_GROUP_VERSION, "Certificate", subject.certificate
        )


async def _publish_bundle(
    ctx: Ctx, subject: Subject, current: Mapping[str, Any] | None, bundle: str
) -> None:
    """`<name>-ca` with the bundle only. One still holding a key (type kubernetes.io/tls, from
    before the key moved out) is deleted first: a Secret's type cannot change."""
    if current is not None and current.get("type") != builders.BUNDLE_TYPE:
        await ctx.kube.delete(
            "v1", "Secret", ctx.namespace, subject.ca_secret, uid=current["metadata"]["uid"]
        )
    owned = not subject.retain
    await ctx.kube.apply(
        builders.ca_bundle_secret(ctx.owner, subject.ca_secret, subject.labels, bundle, owned=owned)
    )


async def _self_signed(ctx: Ctx, spec_tls: models.Tls, subject: Subject) -> Serving:
    key_secret = await ctx.kube.get("v1", "Secret", ctx.namespace, subject.ca_key_secret)
    bundle_secret = await ctx.kube.get("v1", "Secret", ctx.namespace, subject.ca_secret)
    renewal = pki.renew(
        _current_authority(key_secret, bundle_secret),
        _pair(await ctx.kube.get("v1", "Secret", ctx.namespace, subject.tls_secret)),
        f"runestone {ctx.namespace}/{ctx.name} CA",
        subject.dns_names,
        ctx.now,
        lifetime(spec_tls),
    )
    if renewal.new_ca:
        overlap = (
            "; the previous CA stays trusted (in the ca.crt bundle) until it expires"
            if renewal.authority.retired
            else ""
        )
        ctx.note(
            events.NORMAL,
            conditions.Reason.CERTIFICATE_ISSUED,
            f"issued a new CA certificate{overlap}",
        )
    if renewal.new_serving:
        info = pki.inspect(renewal.serving.cert_pem)
        ctx.note(
            events.NORMAL,
            conditions.Reason.CERTIFICATE_ISSUED,
            f"issued a serving certificate valid until {info.not_after.isoformat()}",
        )
    bundle = renewal.authority.bundle
    # The CA first: a serving certificate is never published before its issuer is kept and
    # trusted.
    await ctx.kube.apply(
        builders.ca_key_secret(
            ctx.owner,
            subject.ca_key_secret,
            subject.labels,
            renewal.authority.signer,
            owned=not subject.retain,
        )
    )
    await _publish_bundle(ctx, subject, bundle_secret, bundle)
    await ctx.kube.apply(
        builders.tls_secret(ctx.owner, subject.tls_secret, subject.labels, renewal.serving, bundle)
    )
    return Serving(
        subject.tls_secret, renewal.renew_at, bundle, _fingerprint(renewal.serving.cert_pem)
    )


async def _existing(ctx: Ctx, secret_name: str, *, waiting: bool) -> Serving:
    """A Secret someone else writes: the user, or cert-manager (`waiting` for it to)."""
    secret = await ctx.kube.get("v1", "Secret", ctx.namespace, secret_name)
    pair = _pair(secret)
    if pair is None:
        if waiting:
            raise context.Blocked(
                conditions.Reason.WAITING_FOR_CERTIFICATE,
                f"waiting for cert-manager to issue Secret {secret_name!r}",
                waiting=True,
            )
        raise context.Blocked(
            conditions.Reason.MISSING_SECRET,
            f"TLS Secret {secret_name!r} does not exist or lacks tls.crt/tls.key",
        )
    trust = secrets.value(secret, "ca.crt") or None
    return Serving(secret_name, None, trust, _fingerprint(pair.cert_pem))


async def _cert_manager(ctx: Ctx, spec_tls: models.Tls, subject: Subject) -> Serving:
    if not await ctx.kube.serves(builders.CERT_MANAGER_GROUP_VERSION):
        raise context.Blocked(
            conditions.Reason.CERT_MANAGER_MISSING,
            "tls.mode is certManager but the cert-manager.io/v1 API (the Certificate CRD) is "
            "not installed in this cluster",
        )
    await ctx.kube.apply(
        builders.certificate(
            ctx.owner,
            subject.certificate,
            subject.labels,
            subject.tls_secret,
            subject.dns_names,
            spec_tls,
        )
    )
    return await _existing(ctx, subject.tls_secret, waiting=True)


async def ensure_tls(ctx: Ctx, spec_tls: models.Tls, subject: Subject) -> Serving:
    """The Secret to mount at the TLS path (None for plain HTTP)."""
    mode = spec_tls.mode
    if mode != "certManager":
        await _remove_certificate(ctx, subject)
    if mode == "selfSigned":
        return await _self_signed(ctx, spec_tls, subject)
    if mode == "certManager":
        await _remove_own(ctx, subject.ca_secret, subject.ca_key_secret)
        return await _cert_manager(ctx, spec_tls, subject)
    await _remove_own(ctx, subject.ca_secret, subject.ca_key_secret, subject.tls_secret)
    if mode == "secret":
        assert spec_tls.secret_name is not None  # guaranteed by the CRD's CEL rule
        return await _existing(ctx, spec_tls.secret_name, waiting=False)
    return Serving(None)
