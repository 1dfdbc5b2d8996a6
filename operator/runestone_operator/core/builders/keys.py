"""The per-key Secrets: each holds one plaintext key, for whoever distributes it (never mounted
into a workload), and the state of its last rotation (hashes only)."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from runestone_operator.core import keyplan, meta, names, timestamps


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def key_secret(
    owner: meta.Owner,
    labels: Mapping[str, str],
    key: keyplan.StoredKey,
    annotations: Mapping[str, str] | None = None,
    *,
    owned: bool = True,
) -> meta.Manifest:
    """`<owner>-key-<name>`: one key and the state of its last rotation, plus the kind's own
    `annotations`. `owned=False` keeps it when the owner is deleted (`meta.object_meta`)."""
    noted = dict(annotations or {})
    if key.rotation_token is not None:
        noted[names.ROTATION_TOKEN] = key.rotation_token
    if key.rotated_at is not None:
        noted[names.ROTATED_AT] = timestamps.render(key.rotated_at)
    if key.previous:
        noted[names.PREVIOUS_KEYS] = keyplan.render_previous(key.previous)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta.object_meta(
            owner,
            names.key_secret(owner.name, key.name),
            {**labels, names.LABEL_API_KEY: key.name},
            annotations=noted,
            owned=owned,
        ),
        "type": "Opaque",
        "data": {names.API_KEY_DATA_KEY: _b64(key.plaintext)},
    }


def plain_key_secret(
    owner: meta.Owner, name: str, labels: Mapping[str, str], plaintext: str
) -> meta.Manifest:
    """A key the operator keeps for itself or a sidecar, not one a spec asks for."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta.object_meta(owner, name, labels),
        "type": "Opaque",
        "data": {names.API_KEY_DATA_KEY: _b64(plaintext)},
    }
