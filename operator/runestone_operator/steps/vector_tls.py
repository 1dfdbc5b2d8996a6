"""Step 2: the certificate members serve clients with, per `spec.tls.mode`.

- none: plain HTTP; leftovers of the operator's own PKI are removed.
- selfSigned: an operator CA in `<name>-ca` signs a certificate in `<name>-tls` for the client
  Service and every member; both are replaced before they expire.
- secret: the user's kubernetes.io/tls Secret, which must exist.
- certManager: a cert-manager Certificate writing `<name>-tls`.

Weaviate reads its certificate only at start, so the certificate's fingerprint is part of the
members' config hash: a renewed certificate rolls the members one at a time."""

from __future__ import annotations

import base64
import datetime
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runestone_operator import conditions, pki, vectornames
from runestone_operator.builders import events, vector_secrets
from runestone_operator.steps import context
from runestone_operator.steps import tls as gateway_tls
from runestone_operator.steps.vector_context import VectorContext, delete_owned

CERT_MANAGER = "cert-manager.io/v1"


@dataclass(frozen=True)
class Serving:
    secret_name: str | None
    ca_pem: str | None = None
    """What the operator trusts when it calls a member (None: the system's trust store)."""
    fingerprint: str = ""
    renew_at: datetime.datetime | None = None


def _decoded(secret: Mapping[str, Any] | None, key: str) -> str:
    if secret is None:
        return ""
    try:
        return base64.b64decode((secret.get("data") or {}).get(key, "")).decode()
    except (ValueError, UnicodeDecodeError):
        return ""


def _pair(secret: Mapping[str, Any] | None) -> pki.KeyPair | None:
    cert, key = _decoded(secret, "tls.crt"), _decoded(secret, "tls.key")
    return pki.KeyPair(cert, key) if cert and key else None


def _fingerprint(cert_pem: str) -> str:
    return hashlib.sha256(cert_pem.encode()).hexdigest()


async def _self_signed(ctx: VectorContext) -> Serving:
    life = gateway_tls.lifetime(ctx.spec.tls)
    ca_name, tls_name = vectornames.ca_secret(ctx.name), vectornames.tls_secret(ctx.name)
    ca = _pair(await ctx.kube.get("v1", "Secret", ctx.namespace, ca_name))
    serving = _pair(await ctx.kube.get("v1", "Secret", ctx.namespace, tls_name))
    if ca is None or not pki.ca_is_usable(ca, ctx.now, life):
        ca = pki.issue_ca(f"runestone {ctx.namespace}/{ctx.name} CA", ctx.now, life.ca_duration)
        ctx.note(events.NORMAL, conditions.Reason.CERTIFICATE_ISSUED, "issued a new CA certificate")
    dns_names = vector_secrets.serving_dns_names(ctx.owner)
    if serving is None or not pki.serving_is_usable(serving, ca, dns_names, ctx.now, life):
        serving = pki.issue_serving(ca, dns_names, ctx.now, life.duration)
        not_after = pki.inspect(serving.cert_pem).not_after
        ctx.note(
            events.NORMAL,
            conditions.Reason.CERTIFICATE_ISSUED,
            f"issued a serving certificate valid until {not_after.isoformat()}",
        )
    await ctx.kube.apply(vector_secrets.ca_secret(ctx.owner, ca))
    await ctx.kube.apply(vector_secrets.tls_secret(ctx.owner, serving, ca.cert_pem))
    renew_at = min(
        pki.renewal_due(serving.cert_pem, life.renew_before),
        pki.renewal_due(ca.cert_pem, life.ca_renew_before),
    )
    return Serving(tls_name, ca.cert_pem, _fingerprint(serving.cert_pem), renew_at)


async def _existing(ctx: VectorContext, secret_name: str, waiting: bool) -> Serving:
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
    return Serving(secret_name, _decoded(secret, "ca.crt") or None, _fingerprint(pair.cert_pem))


async def ensure_tls(ctx: VectorContext) -> Serving:
    mode = ctx.spec.tls.mode
    if mode != "certManager" and await ctx.kube.serves(CERT_MANAGER):
        await delete_owned(ctx, CERT_MANAGER, "Certificate", vectornames.tls_secret(ctx.name))
    if mode == "selfSigned":
        return await _self_signed(ctx)
    await delete_owned(ctx, "v1", "Secret", vectornames.ca_secret(ctx.name))
    if mode == "certManager":
        if not await ctx.kube.serves(CERT_MANAGER):
            raise context.Blocked(
                conditions.Reason.CERT_MANAGER_MISSING,
                "tls.mode is certManager but the cert-manager.io/v1 API is not installed",
            )
        await ctx.kube.apply(vector_secrets.certificate(ctx.owner, ctx.spec.tls))
        return await _existing(ctx, vectornames.tls_secret(ctx.name), waiting=True)
    await delete_owned(ctx, "v1", "Secret", vectornames.tls_secret(ctx.name))
    if mode == "secret":
        assert ctx.spec.tls.secret_name is not None  # guaranteed by the CRD's CEL rule
        return await _existing(ctx, ctx.spec.tls.secret_name, waiting=False)
    return Serving(None)
