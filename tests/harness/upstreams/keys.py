"""API keys for gateway tests: plaintext keys the test sends, and key-table files holding only
their SHA-256 digests, written atomically as a Secret volume update would be."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runestone_gateway import apikeys


@dataclass(frozen=True)
class Key:
    plaintext: str
    entry: dict[str, Any]
    """The key-table entry, CRD-style names."""

    @property
    def id(self) -> str:
        return str(self.entry["id"])


def key(key_id: str, **fields: Any) -> Key:
    """A new key with this id; `fields` are key-table fields (limits, budget, expiresAt, ...)."""
    plaintext = apikeys.generate()
    return Key(plaintext, {"id": key_id, "sha256": apikeys.digest(plaintext), **fields})


def write_table(path: Path, *keys: Key) -> dict[str, str]:
    """Write the table; returns the config's `auth` section naming it."""
    staging = path.with_suffix(".staging")
    staging.write_text(yaml.safe_dump({"keys": [k.entry for k in keys]}))
    os.replace(staging, path)
    return {"keyTableFile": str(path)}
