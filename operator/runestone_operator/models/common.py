"""Building blocks shared by the custom resources: the model base, references, conditions and the
annotations that carry CRD-only schema (CEL rules, list types) into the generated OpenAPI."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Annotated, Any, Literal

import pydantic
from pydantic import alias_generators

GROUP = "runestone.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DURATION = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
"""A Go-style duration ("90s", "24h", "1h30m"), the form CEL's `duration()` reads."""

DnsLabel = Annotated[str, pydantic.Field(min_length=1, max_length=63, pattern=DNS_LABEL)]
ObjectName = Annotated[str, pydantic.Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]
Duration = Annotated[str, pydantic.Field(max_length=32, pattern=DURATION)]
DecimalString = Annotated[str, pydantic.Field(max_length=32, pattern=r"^[0-9]+(\.[0-9]+)?$")]
Quantity = Annotated[
    str | int,
    pydantic.WithJsonSchema({"x-kubernetes-int-or-string": True}),
    pydantic.Field(union_mode="left_to_right"),
]
"""A Kubernetes resource quantity such as "500m", "1Gi" or 2."""


def cel(rule: str, message: str) -> dict[str, str]:
    """One `x-kubernetes-validations` entry: a CEL rule and the message shown when it fails."""
    return {"rule": rule, "message": message}


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    """Model-level JSON schema extra carrying CEL rules into the CRD."""
    return {"x-kubernetes-validations": list(rules)}


def list_map(*keys: str) -> dict[str, Any]:
    """Field-level JSON schema extra: a list whose items are keyed (duplicates are refused)."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


LIST_SET: dict[str, Any] = {"x-kubernetes-list-type": "set"}


def default_object(model: type[pydantic.BaseModel]) -> Callable[[dict[str, Any]], None]:
    """Field-level JSON schema extra: the API server fills a nested object the user left out
    with the model's fully defaulted form (CEL rules on it see every defaulted field)."""

    def extra(schema: dict[str, Any]) -> None:
        schema["default"] = model().model_dump(mode="json", by_alias=True, exclude_none=True)

    return extra


class Model(pydantic.BaseModel):
    """Frozen, camelCase on the wire, unknown fields refused, docstrings become descriptions."""

    model_config = pydantic.ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        alias_generator=alias_generators.to_camel,
        use_attribute_docstrings=True,
    )


class LocalObjectReference(Model):
    """A reference to an object in the same namespace."""

    name: ObjectName


class SecretKeySelector(Model):
    """One key of a Secret in the same namespace."""

    name: ObjectName
    """The Secret's name."""
    key: str = pydantic.Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")
    """The key within the Secret's data."""


class Resources(Model):
    """Compute resources of a container, as in a Pod spec."""

    requests: dict[str, Quantity] | None = None
    limits: dict[str, Quantity] | None = None


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(Model):
    """One observation of the object's state, in the shape of `metav1.Condition`."""

    type: str = pydantic.Field(
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
    )
    status: ConditionStatus
    reason: str = pydantic.Field(
        min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
    )
    message: str = pydantic.Field(max_length=32768)
    last_transition_time: datetime.datetime
    observed_generation: int | None = pydantic.Field(default=None, ge=0)


Conditions = Annotated[
    list[Condition],
    pydantic.Field(default_factory=list, max_length=16, json_schema_extra=list_map("type")),
]


class Status(Model):
    """What every kind reports: the generation it acted on and its conditions."""

    observed_generation: int | None = pydantic.Field(default=None, ge=0)
    """The `metadata.generation` the operator last reconciled."""
    conditions: Conditions
    """`Ready`, `Progressing` and `Degraded`."""
