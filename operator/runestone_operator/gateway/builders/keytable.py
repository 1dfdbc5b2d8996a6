"""The key-table Secret: hashes and metadata of every key, mounted into gateway pods (the
plaintext keys are in their own Secrets, `core.builders.keys`, never mounted into the gateway)."""

from __future__ import annotations

import base64
import datetime
from collections.abc import Sequence

from runestone_gateway import config
from runestone_operator.core import keyplan, meta
from runestone_operator.gateway import model, names
from runestone_operator.gateway.builders import config as config_builder


def _entry(
    spec: model.ApiKey, sha256: str, tenant: str, expires_at: datetime.datetime | None
) -> config.KeyTableEntry:
    return config.KeyTableEntry(
        id=spec.name,
        sha256=sha256,
        tenant=tenant,
        models=list(spec.models),
        limits=config.KeyLimits(
            requests_per_minute=spec.limits.requests_per_minute,
            tokens_per_minute=spec.limits.tokens_per_minute,
            max_concurrent_requests=spec.limits.max_concurrent_requests,
        ),
        budget=(
            config.KeyBudget(usd=spec.budget.usd, period=spec.budget.period)
            if spec.budget
            else None
        ),
        expires_at=expires_at,
    )


def key_table(
    wanted: Sequence[model.ApiKey], keys: Sequence[keyplan.StoredKey], tenant: str
) -> config.KeyTable:
    """One entry per key, plus one for each replaced key still in its grace period (same id,
    expiring at the end of its grace period or at the key's own expiry, whichever is first)."""
    stored = {key.name: key for key in keys}
    entries = []
    for spec in wanted:
        key = stored.get(spec.name)
        if key is None:
            continue
        entries.append(_entry(spec, key.sha256, tenant, spec.expires_at))
        for old in key.previous:
            ends = old.expires_at
            if spec.expires_at is not None:
                ends = min(ends, spec.expires_at)
            entries.append(_entry(spec, old.sha256, tenant, ends))
    return config.KeyTable(keys=entries)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def key_table_secret(owner: meta.Owner, table: config.KeyTable) -> meta.Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta.object_meta(
            owner, names.key_table_secret(owner.name), names.gateway_labels(owner.name)
        ),
        "type": "Opaque",
        "data": {names.KEY_TABLE_FILE: _b64(config_builder.render(table))},
    }
