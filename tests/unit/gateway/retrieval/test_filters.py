"""OpenAI's attribute filters translated to Weaviate `where` filters: typed properties per key,
comparisons, in / nin, and / or, comparisons on properties no chunk has decided here, and
malformed filters refused with a 400 naming `filters`."""

from __future__ import annotations

from typing import Any

import pytest

from runestone_gateway import errors
from runestone_gateway.retrieval import filters

YEAR = filters.attribute_property("year", 1)
KIND = filters.attribute_property("kind", "x")
PUBLIC = filters.attribute_property("public", True)
KNOWN = frozenset({YEAR, KIND, PUBLIC})


def test_properties_are_typed_and_any_key_is_a_valid_name() -> None:
    expected = ("an_" + b"year".hex(), "as_" + b"kind".hex(), "ab_" + b"public".hex())
    assert expected == (YEAR, KIND, PUBLIC)
    assert filters.attribute_property("Größe / Maße!", "v").isidentifier()
    assert filters.attribute_property("year", 2.5) == YEAR


@pytest.mark.parametrize(
    ("kind", "operator"),
    [("eq", "Equal"), ("ne", "NotEqual"), ("gt", "GreaterThan"), ("gte", "GreaterThanEqual"),
     ("lt", "LessThan"), ("lte", "LessThanEqual")],
)  # fmt: skip
def test_comparisons(kind: str, operator: str) -> None:
    spec = {"type": kind, "key": "year", "value": 2023}
    assert filters.translate(spec, KNOWN) == {
        "path": [YEAR],
        "operator": operator,
        "valueNumber": 2023.0,
    }


def test_value_types() -> None:
    text = filters.translate({"type": "eq", "key": "kind", "value": "md"}, KNOWN)
    assert text == {"path": [KIND], "operator": "Equal", "valueText": "md"}
    boolean = filters.translate({"type": "eq", "key": "public", "value": True}, KNOWN)
    assert boolean == {"path": [PUBLIC], "operator": "Equal", "valueBoolean": True}


def test_in_and_nin_and_compounds() -> None:
    spec: dict[str, Any] = {
        "type": "and",
        "filters": [
            {"type": "in", "key": "kind", "value": ["md", "txt"]},
            {"type": "nin", "key": "year", "value": [2020, 2021]},
        ],
    }
    assert filters.translate(spec, KNOWN) == {
        "operator": "And",
        "operands": [
            {
                "operator": "Or",
                "operands": [
                    {"path": [KIND], "operator": "Equal", "valueText": "md"},
                    {"path": [KIND], "operator": "Equal", "valueText": "txt"},
                ],
            },
            {
                "operator": "And",
                "operands": [
                    {"path": [YEAR], "operator": "NotEqual", "valueNumber": 2020.0},
                    {"path": [YEAR], "operator": "NotEqual", "valueNumber": 2021.0},
                ],
            },
        ],
    }


def test_unknown_properties_are_decided_here() -> None:
    missing = {"type": "eq", "key": "nowhere", "value": "x"}
    assert filters.translate(missing, KNOWN) is False
    assert filters.translate({**missing, "type": "ne"}, KNOWN) is True
    assert filters.translate({"type": "nin", "key": "nowhere", "value": ["a"]}, KNOWN) is True
    # A number compared with a key that only ever held strings: no chunk matches.
    assert filters.translate({"type": "eq", "key": "kind", "value": 3}, KNOWN) is False
    year = {"type": "eq", "key": "year", "value": 1}
    either = filters.translate({"type": "or", "filters": [missing, year]}, KNOWN)
    assert either == {"path": [YEAR], "operator": "Equal", "valueNumber": 1.0}
    assert filters.translate({"type": "and", "filters": [missing, year]}, KNOWN) is False
    everything = {"type": "or", "filters": [{**missing, "type": "ne"}, year]}
    assert filters.translate(everything, KNOWN) is True


@pytest.mark.parametrize(
    "spec",
    [
        "not an object",
        {"type": "like", "key": "kind", "value": "x"},
        {"type": "eq", "value": "x"},
        {"type": "eq", "key": "kind", "value": {"nested": 1}},
        {"type": "in", "key": "kind", "value": "x"},
        {"type": "in", "key": "kind", "value": []},
        {"type": "and", "filters": []},
        {"type": "or"},
    ],
)
def test_malformed_filters_are_refused(spec: object) -> None:
    with pytest.raises(errors.GatewayError) as refused:
        filters.translate(spec, KNOWN)
    assert refused.value.status == 400
    assert refused.value.param == "filters"


def test_graphql_rendering() -> None:
    where = {
        "operator": "And",
        "operands": [
            {"path": ["storeId"], "operator": "Equal", "valueText": 'vs_"1'},
            {"path": [YEAR], "operator": "GreaterThan", "valueNumber": 2.0},
            {"path": [PUBLIC], "operator": "Equal", "valueBoolean": False},
        ],
    }
    assert filters.graphql(where) == (
        '{operator: And, operands: [{path: ["storeId"], operator: Equal, valueText: "vs_\\"1"}, '
        f'{{path: ["{YEAR}"], operator: GreaterThan, valueNumber: 2.0}}, '
        f'{{path: ["{PUBLIC}"], operator: Equal, valueBoolean: false}}]}}'
    )


def test_graphql_renders_int_values_as_ints() -> None:
    """Weaviate refuses `valueInt: 3.0` on an int property."""
    where = {"path": ["seq"], "operator": "GreaterThanEqual", "valueInt": 3}
    assert filters.graphql(where) == '{path: ["seq"], operator: GreaterThanEqual, valueInt: 3}'
