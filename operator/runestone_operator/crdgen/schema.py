"""Turn a pydantic JSON schema into a Kubernetes structural OpenAPI v3 schema.

Kubernetes accepts a subset of OpenAPI v3.0: no `$ref`, no `null` types, no titles that drift with
field renames, and `exclusiveMinimum` as a boolean. Optional fields become plain (not required)
properties; `default: null` is dropped because the API server would store it.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_DROPPED_KEYS = frozenset({"title", "$defs"})


def structural(schema: Schema) -> Schema:
    """The structural form of a top-level pydantic schema (its `$defs` inlined)."""
    definitions: dict[str, Schema] = schema.get("$defs", {})
    return _convert(schema, definitions)


def _resolve(schema: Schema, definitions: dict[str, Schema]) -> Schema:
    """Inline `$ref` and `allOf: [one]`; keys written next to a reference override the target's."""
    if "$ref" in schema:
        target = definitions[schema["$ref"].rsplit("/", 1)[-1]]
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        return _resolve({**target, **siblings}, definitions)
    if "allOf" in schema and len(schema["allOf"]) == 1:
        siblings = {key: value for key, value in schema.items() if key != "allOf"}
        return _resolve({**schema["allOf"][0], **siblings}, definitions)
    return schema


def _without_null(schema: Schema, definitions: dict[str, Schema]) -> Schema:
    """`anyOf: [X, {type: null}]` (an Optional field) becomes X with the outer annotations."""
    options = schema.get("anyOf")
    if not options:
        return schema
    non_null = [option for option in options if option.get("type") != "null"]
    if len(non_null) != 1:
        return schema
    siblings = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**_resolve(non_null[0], definitions), **siblings}


def _convert(schema: Schema, definitions: dict[str, Schema]) -> Schema:
    schema = _without_null(_resolve(schema, definitions), definitions)
    result: Schema = {}
    for key, value in schema.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "default" and value is None:
            continue
        if key == "additionalProperties" and value is False:
            continue  # structural schemas prune unknown fields instead
        if key == "exclusiveMinimum":
            result["minimum"] = value
            result["exclusiveMinimum"] = True
            continue
        if key == "exclusiveMaximum":
            result["maximum"] = value
            result["exclusiveMaximum"] = True
            continue
        if key == "properties":
            result[key] = {name: _convert(sub, definitions) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            result[key] = _convert(value, definitions)
        elif key == "anyOf" and schema.get("x-kubernetes-int-or-string"):
            result[key] = value  # the one union a structural schema has: integer or string
        elif key == "anyOf":
            raise ValueError(f"a union other than Optional cannot be structural: {schema}")
        else:
            result[key] = value
    if "const" in result:
        result["enum"] = [result.pop("const")]
    return result
