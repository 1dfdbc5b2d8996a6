"""Reading Kubernetes resource quantities as numbers (a memory limit in bytes)."""

from __future__ import annotations

import pytest

from runestone_operator.core import quantities


@pytest.mark.parametrize(
    ("quantity", "value"),
    [
        ("2Gi", 2 * 1024**3),
        ("512Mi", 512 * 1024**2),
        ("1.5Gi", 3 * 1024**3 // 2),
        ("1G", 10**9),
        ("100k", 100_000),
        ("1e9", 10**9),
        ("1E3", 1000),
        (1073741824, 1073741824),
        ("3221225472", 3221225472),
        ("1500m", 2),
    ],
)
def test_quantities_in_units(quantity: str | int, value: int) -> None:
    assert quantities.value(quantity) == value


@pytest.mark.parametrize("quantity", ["", "Gi", "2GB", "two", "-1Gi", "1.2.3Mi", "1 Gi"])
def test_what_is_not_a_quantity_has_no_value(quantity: str) -> None:
    assert quantities.value(quantity) is None


@pytest.mark.parametrize(
    ("first", "second", "equal"),
    [
        ("2", 2, True),
        ("2000m", "2", True),
        ("1Gi", "1024Mi", True),
        ("0.5", "500m", True),
        ("500m", "1", False),  # both round up to 1, yet are not the same request
        ("1G", "1Gi", False),
    ],
)
def test_exact_quantities_compare_as_the_api_server_does(
    first: str | int, second: str | int, equal: bool
) -> None:
    assert (quantities.exact(first) == quantities.exact(second)) is equal


@pytest.mark.parametrize("quantity", ["", "Gi", "-1", -1])
def test_what_is_not_a_quantity_has_no_exact_value(quantity: str | int) -> None:
    assert quantities.exact(quantity) is None
