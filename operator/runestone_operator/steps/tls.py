"""Step 2: the serving certificate, per `spec.tls.mode`.

- none: no certificate; leftovers of the operator's own PKI are removed.
- selfSigned: an operator CA in `<gateway>-ca` signs a serving certificate in `<gateway>-tls`;
  both are replaced before they expire, a CA with an overlap during which the old and the new CA
  are both trusted (`pki.renew`). Existing material is re-applied unchanged otherwise.
- secret: the user's kubernetes.io/tls Secret, which must exist.
- certManager: a cert-manager Certificate writing `<gateway>-tls`, when cert-manager is installed.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runestone_operator import conditions, durations, names, pki
from runestone_operator.builders import events, tls
from runestone_operator.models import gateway
from runestone_operator.steps import context


def lifetime(spec_tls: gateway.Tls) -> pki.Lifetime:
    return pki.Lifetime(
        duration=durations.parse(spec_tls.duration),
        renew_before=durations.parse(spec_tls.renew_before),
    )


def _pair(secret: Mapping[str, Any] | None) -> pki.KeyPair | None:
    if secret is None:
        return None
    data = secret.get("data") or {}
    try:
        cert = base64.b64decode(data.get("tls.crt", "")).decode()
        key = base64.b64decode(data.get("tls.key", "")).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return pki.KeyPair(cert, key) if cert and key else None


def _authority(secret: Mapping[str, Any] | None) -> pki.Authority | None:
    pair = _pair(secret)
    return pki.authority(pair.cert_pem, pair.key_pem) if pair is not None else None


async def _remove_own(ctx: context.Context, *secret_names: str) -> None:
    for name in secret_names:
        await context.delete_owned(ctx, "v1", "Secret", name)


async def _remove_certificate(ctx: context.Context) -> None:
    if await ctx.kube.serves(tls.CERT_MANAGER_GROUP_VERSION):
        await context.delete_owned(ctx, tls.CERT_MANAGER_GROUP_VERSION, "Certificate", ctx.name)


@dataclass(frozen=True)
class Serving:
    """What the workload mounts, and when this step must run again to renew it."""

    secret_name: str | None
    renew_at: datetime.datetime | None = None


async def _self_signed(ctx: context.Context) -> Serving:
    renewal = pki.renew(
        _authority(await ctx.kube.get("v1", "Secret", ctx.namespace, names.ca_secret(ctx.name))),
        _pair(await ctx.kube.get("v1", "Secret", ctx.namespace, names.tls_secret(ctx.name))),
        f"runestone {ctx.namespace}/{ctx.name} CA",
        names.service_dns_names(ctx.name, ctx.namespace),
        ctx.now,
        lifetime(ctx.spec.tls),
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
    # The CA Secret first: a serving certificate is never published without its issuer.
    await ctx.kube.apply(tls.ca_secret(ctx.owner, renewal.authority))
    await ctx.kube.apply(tls.tls_secret(ctx.owner, renewal.serving, renewal.authority.bundle))
    return Serving(names.tls_secret(ctx.name), renewal.renew_at)


async def _user_secret(ctx: context.Context, secret_name: str) -> str:
    secret = await ctx.kube.get("v1", "Secret", ctx.namespace, secret_name)
    if _pair(secret) is None:
        raise context.Blocked(
            conditions.Reason.MISSING_SECRET,
            f"TLS Secret {secret_name!r} does not exist or lacks tls.crt/tls.key",
        )
    return secret_name


async def _cert_manager(ctx: context.Context) -> str:
    if not await ctx.kube.serves(tls.CERT_MANAGER_GROUP_VERSION):
        raise context.Blocked(
            conditions.Reason.CERT_MANAGER_MISSING,
            "tls.mode is certManager but the cert-manager.io/v1 API (the Certificate CRD) is "
            "not installed in this cluster",
        )
    await ctx.kube.apply(tls.certificate(ctx.owner, ctx.spec.tls))
    if _pair(await ctx.kube.get("v1", "Secret", ctx.namespace, names.tls_secret(ctx.name))) is None:
        raise context.Blocked(
            conditions.Reason.WAITING_FOR_CERTIFICATE,
            f"waiting for cert-manager to issue Secret {names.tls_secret(ctx.name)!r}",
            waiting=True,
        )
    return names.tls_secret(ctx.name)


async def ensure_tls(ctx: context.Context) -> Serving:
    """The Secret to mount at the TLS path (None for plain HTTP)."""
    mode = ctx.spec.tls.mode
    if mode != "certManager":
        await _remove_certificate(ctx)
    if mode == "selfSigned":
        return await _self_signed(ctx)
    if mode == "certManager":
        await _remove_own(ctx, names.ca_secret(ctx.name))
        return Serving(await _cert_manager(ctx))
    await _remove_own(ctx, names.ca_secret(ctx.name), names.tls_secret(ctx.name))
    if mode == "secret":
        assert ctx.spec.tls.secret_name is not None  # guaranteed by the CRD's CEL rule
        return Serving(await _user_secret(ctx, ctx.spec.tls.secret_name))
    return Serving(None)
