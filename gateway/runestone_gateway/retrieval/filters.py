"""OpenAI's attribute filters (`eq`, `ne`, `gt`, `gte`, `lt`, `lte`, `in`, `nin`, combined with
`and` / `or`) as a Weaviate `where` filter. Pure: no I/O.

A file's attributes are kept on each of its chunks, one Weaviate property per key and value
type (`attribute_property`): Weaviate filters need a typed property, and one key may hold a
string on one file and a number on another. A comparison with a property that no chunk has
yet is decided here (it matches nothing, or, for `ne` and `nin`, everything), since Weaviate
refuses a filter on a property it does not know."""

from __future__ import annotations

import json
from typing import Any

from runestone_gateway import errors

Where = dict[str, Any]
Decided = bool | Where
"""A filter decided here (True: every chunk, False: none) or a Weaviate `where`."""

_OPERATORS = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "gte": "GreaterThanEqual",
    "lt": "LessThan",
    "lte": "LessThanEqual",
}
MAX_DEPTH = 8


def attribute_property(key: str, value: str | float | bool) -> str:
    """The Weaviate property holding `key`'s values of this type (any key, as hex)."""
    return f"a{_type_letter(value)}_{key.encode().hex()}"


def _type_letter(value: object) -> str:
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int | float):
        return "n"
    return "s"


def _value_field(value: object) -> tuple[str, object]:
    if isinstance(value, bool):
        return "valueBoolean", value
    if isinstance(value, int | float):
        return "valueNumber", float(value)
    return "valueText", value


def translate(spec: object, known: frozenset[str], depth: int = 0) -> Decided:
    """`spec` as the request gave it (a 400 naming the problem when it is malformed);
    `known`: the attribute properties that exist."""
    if depth > MAX_DEPTH:
        raise _bad(f"filters nest deeper than {MAX_DEPTH} levels.")
    if not isinstance(spec, dict):
        raise _bad("each filter must be an object.")
    kind = spec.get("type")
    if kind in ("and", "or"):
        parts = spec.get("filters")
        if not isinstance(parts, list) or not parts:
            raise _bad(f"an {kind!r} filter needs a non-empty 'filters' list.")
        return _combine(kind, [translate(part, known, depth + 1) for part in parts])
    if kind in ("in", "nin"):
        key, values = _key(spec), spec.get("value")
        if not isinstance(values, list) or not values:
            raise _bad(f"an {kind!r} filter needs a non-empty list 'value'.")
        each = "eq" if kind == "in" else "ne"
        compared = [_compare(each, key, _scalar(value), known) for value in values]
        return _combine("or" if kind == "in" else "and", compared)
    if kind in _OPERATORS:
        return _compare(kind, _key(spec), _scalar(spec.get("value")), known)
    raise _bad(
        f"unknown filter type {kind!r}; expected one of eq, ne, gt, gte, lt, lte, in, nin, and, or."
    )


def _key(spec: dict[str, Any]) -> str:
    key = spec.get("key")
    if not isinstance(key, str) or not key:
        raise _bad("a comparison filter needs a string 'key'.")
    return key


def _scalar(value: object) -> str | float | bool:
    if isinstance(value, str | bool | int | float):
        return value
    raise _bad("a comparison's 'value' must be a string, number or boolean.")


def _compare(kind: str, key: str, value: str | float | bool, known: frozenset[str]) -> Decided:
    prop = attribute_property(key, value)
    if prop not in known:
        return kind == "ne"
    field, typed = _value_field(value)
    # Weaviate's NotEqual also matches chunks that have no value for the property, as `ne`
    # should: a file without the attribute differs from the value.
    return {"path": [prop], "operator": _OPERATORS[kind], field: typed}


def _combine(kind: str, parts: list[Decided]) -> Decided:
    absorbing = kind == "or"  # True absorbs an Or, False an And
    if any(part is absorbing for part in parts):
        return absorbing
    operands = [part for part in parts if not isinstance(part, bool)]
    if not operands:
        return not absorbing
    if len(operands) == 1:
        return operands[0]
    return {"operator": "Or" if kind == "or" else "And", "operands": operands}


def _bad(message: str) -> errors.GatewayError:
    return errors.malformed(f"Invalid 'filters': {message}", param="filters")


def graphql(where: Where) -> str:
    """A `where` in GraphQL's syntax (operators are enum values, not strings)."""
    return _graphql_value(where, key="")


def _graphql_value(value: object, key: str) -> str:
    if isinstance(value, dict):
        inner = ", ".join(f"{name}: {_graphql_value(item, name)}" for name, item in value.items())
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_graphql_value(item, key) for item in value) + "]"
    if key == "operator":
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if key == "valueInt" else repr(float(value))
    return json.dumps(value)
