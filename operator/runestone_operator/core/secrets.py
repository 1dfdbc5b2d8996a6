"""Reading a Secret's data as text: what the operator wrote there, or someone else did."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any


def data(secret: Mapping[str, Any] | None) -> dict[str, str]:
    """Every key whose value decodes to text; the rest (and a missing Secret) left out."""
    found = {}
    for key, value in ((secret or {}).get("data") or {}).items():
        try:
            found[str(key)] = base64.b64decode(value or "", validate=True).decode()
        except (binascii.Error, ValueError, UnicodeDecodeError):
            continue
    return found


def value(secret: Mapping[str, Any] | None, key: str) -> str:
    """One key's text; empty when absent or not text."""
    return data(secret).get(key, "")
