"""Go-style durations ("90s", "24h", "1h30m"), as the CRDs spell them and CEL's `duration()`
reads them."""

from __future__ import annotations

import datetime
import re

_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse(text: str) -> datetime.timedelta:
    """The duration `text` spells; ValueError when it is not a Go-style duration."""
    position, seconds = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not text or position != len(text):
        raise ValueError(f"not a duration: {text!r} (expected e.g. 90s, 24h, 1h30m)")
    return datetime.timedelta(seconds=seconds)
