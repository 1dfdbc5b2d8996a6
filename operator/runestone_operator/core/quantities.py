"""Kubernetes resource quantities ("2Gi", "500m", "1e9", 1024) as whole numbers of their unit,
for what the operator derives from a container's resources (a memory limit in bytes). Pure."""

from __future__ import annotations

import decimal
import re

_QUANTITY = re.compile(
    r"^(?P<number>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?P<suffix>[A-Za-z]{0,2}|[eE][0-9]+)$"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"m": -1, "": 0, "k": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}


def value(quantity: str | int) -> int | None:
    """The quantity rounded up to a whole unit (as the API server rounds "1500m" bytes), or None
    when it is not a non-negative quantity."""
    scaled = exact(quantity)
    if scaled is None:
        return None
    return int(scaled.to_integral_value(rounding=decimal.ROUND_CEILING))


def exact(quantity: str | int) -> decimal.Decimal | None:
    """The quantity in its unit, unrounded ("500m" is 0.5), or None when it is not a
    non-negative quantity."""
    if isinstance(quantity, int):
        return decimal.Decimal(quantity) if quantity >= 0 else None
    match = _QUANTITY.match(quantity)
    if match is None:
        return None
    number = decimal.Decimal(match["number"])
    suffix = match["suffix"]
    scaled: decimal.Decimal
    if suffix in _BINARY:
        scaled = number * 1024 ** _BINARY[suffix]
    elif suffix in _DECIMAL:
        scaled = number * decimal.Decimal(1000) ** _DECIMAL[suffix]
    elif suffix[:1] in "eE":
        scaled = number.scaleb(int(suffix[1:]))
    else:
        return None
    return scaled
