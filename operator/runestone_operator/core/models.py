"""Typed building blocks every kind's spec and status share: the model base, references,
conditions, TLS and key rotation, and the annotations that carry CRD-only schema (CEL rules, list
types) into the generated OpenAPI.

Pure data: pydantic, the standard library and the pure quantity arithmetic only. The CRD YAML
is generated from the kinds' models, so the API server validates exactly what the operator
parses."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

import pydantic
from pydantic import alias_generators

from runestone_operator.core import quantities

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DURATION = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
"""A Go-style duration ("90s", "24h", "1h30m"), the form CEL's `duration()` reads."""

DnsLabel = Annotated[str, pydantic.Field(min_length=1, max_length=63, pattern=DNS_LABEL)]
ObjectName = Annotated[str, pydantic.Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]
Duration = Annotated[str, pydantic.Field(max_length=32, pattern=DURATION)]
DecimalString = Annotated[str, pydantic.Field(max_length=32, pattern=r"^[0-9]+(\.[0-9]+)?$")]
QUANTITY = (
    r"^(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
"""A non-negative Kubernetes quantity: the API server's own pattern for one, without a sign."""
Quantity = Annotated[
    Annotated[str, pydantic.Field(max_length=64, pattern=QUANTITY)]
    | Annotated[int, pydantic.Field(ge=0)],
    pydantic.WithJsonSchema(
        {
            "x-kubernetes-int-or-string": True,
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "minimum": 0,
            "maxLength": 64,
            "pattern": QUANTITY,
        }
    ),
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


ResourceList = Annotated[dict[str, Quantity], pydantic.Field(max_length=16)]


class Resources(
    Model,
    json_schema_extra=validations(
        cel(
            "!has(self.requests) || !has(self.limits) || self.requests.all(name, "
            "!(name in self.limits) || "
            "quantity(string(self.requests[name])).compareTo("
            "quantity(string(self.limits[name]))) <= 0)",
            "each request must be at most its limit (requests.cpu <= limits.cpu, "
            "requests.memory <= limits.memory)",
        )
    ),
):
    """Compute resources of a container, as in a Pod spec."""

    requests: ResourceList | None = None
    limits: ResourceList | None = None

    @pydantic.model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        for name, request in (self.requests or {}).items():
            limit = (self.limits or {}).get(name)
            if limit is None:
                continue
            asked, allowed = quantities.exact(request), quantities.exact(limit)
            if asked is not None and allowed is not None and asked > allowed:
                raise ValueError(f"requests.{name} ({request}) exceeds limits.{name} ({limit})")
        return self


class Sidecar(Model):
    """The health sidecar the operator adds to each pod, which reports the pod's readiness."""

    resources: Resources | None = None
    """Its compute resources. Unset: 10m CPU and 32Mi memory requested, a 64Mi memory limit;
    beside a workload whose resources are Guaranteed, 100m CPU and 64Mi memory as both request
    and limit, so that the pod is Guaranteed too. Set, they are used as given (the pod is then
    Guaranteed only if these are too)."""


LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
"""A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters."""
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$"
LabelKey = Annotated[str, pydantic.Field(min_length=1, max_length=317, pattern=LABEL_KEY)]
LabelValue = Annotated[str, pydantic.Field(max_length=63, pattern=LABEL_VALUE)]


class Toleration(
    Model,
    json_schema_extra=validations(
        cel(
            "self.operator != 'Exists' || !has(self.value)",
            "a toleration with operator Exists takes no value",
        ),
        cel(
            "has(self.key) || self.operator == 'Exists'",
            "a toleration without a key must have operator Exists (it then tolerates every "
            "taint of its effect)",
        ),
        cel(
            "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
            "tolerationSeconds is only for effect NoExecute",
        ),
    ),
):
    """A taint the pods tolerate, as in a Pod spec."""

    key: LabelKey | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: LabelValue | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """Unset: every effect."""
    toleration_seconds: int | None = pydantic.Field(default=None, ge=0)
    """With `NoExecute`: how long a pod stays on a node after the taint appears."""

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> Toleration:
        if self.operator == "Exists" and self.value is not None:
            raise ValueError("a toleration with operator Exists takes no value")
        if self.key is None and self.operator != "Exists":
            raise ValueError("a toleration without a key must have operator Exists")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            raise ValueError("tolerationSeconds is only for effect NoExecute")
        return self


class Scheduling(
    Model,
    json_schema_extra=validations(
        cel(
            "!has(self.nodeSelector) || self.nodeSelector.all(key, key.size() <= 317 && "
            f"key.matches(r'{LABEL_KEY}'))",
            "every nodeSelector key must be a label key: an optional DNS-subdomain prefix and "
            "'/', then a name of letters, digits, '-', '_' and '.' of at most 63 characters",
        )
    ),
):
    """Which nodes the pods may run on, as in a Pod spec (the pods are spread over nodes by
    hostname besides, as far as the scheduler can)."""

    node_selector: Annotated[dict[str, LabelValue], pydantic.Field(max_length=32)] | None = None
    """Labels a node must carry."""
    tolerations: list[Toleration] = pydantic.Field(default_factory=list, max_length=32)
    """Taints the pods tolerate, e.g. those of a node pool kept for them."""

    @pydantic.field_validator("node_selector")
    @classmethod
    def _label_keys(cls, selector: dict[str, str] | None) -> dict[str, str] | None:
        for key in selector or {}:
            if len(key) > 317 or re.match(LABEL_KEY, key) is None:
                raise ValueError(f"nodeSelector key {key!r} is not a label key")
        return selector


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


# -- TLS and API keys, which every kind that serves clients has ----------------------------------

TlsMode = Literal["none", "selfSigned", "secret", "certManager"]


class IssuerRef(Model):
    """A cert-manager issuer."""

    name: ObjectName
    kind: Literal["Issuer", "ClusterIssuer"] = "Issuer"
    group: str = pydantic.Field(default="cert-manager.io", max_length=253)


class Tls(Model):
    """How the workload serves HTTPS."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=validations(
            cel(
                "self.mode != 'secret' || has(self.secretName)",
                "tls.secretName is required when tls.mode is secret",
            ),
            cel(
                "self.mode == 'secret' || !has(self.secretName)",
                "tls.secretName applies only when tls.mode is secret",
            ),
            cel(
                "self.mode != 'certManager' || has(self.issuerRef)",
                "tls.issuerRef is required when tls.mode is certManager",
            ),
            cel(
                "self.mode == 'certManager' || !has(self.issuerRef)",
                "tls.issuerRef applies only when tls.mode is certManager",
            ),
            cel(
                "duration(self.renewBefore) < duration(self.duration)",
                "tls.renewBefore must be shorter than tls.duration",
            ),
        )
    )

    mode: TlsMode = "selfSigned"
    """`none` (plain HTTP), `selfSigned` (an operator CA, certificates rotated before expiry),
    `secret` (your own kubernetes.io/tls Secret) or `certManager` (a cert-manager Certificate)."""
    secret_name: ObjectName | None = None
    """The kubernetes.io/tls Secret to serve with (mode secret)."""
    issuer_ref: IssuerRef | None = None
    """The cert-manager issuer (mode certManager)."""
    duration: Duration = "2160h"
    """Validity of a serving certificate (selfSigned and certManager)."""
    renew_before: Duration = "720h"
    """A certificate is replaced when less than this remains of its validity."""


class KeyRotation(Model):
    """How key rotation behaves. Rotate a key by setting the annotation
    `rotate-key.runestone.dev/<key name>` on the object to a new value (any token, e.g. a
    timestamp); the operator issues a new key and keeps the old one valid for `gracePeriod`."""

    grace_period: Duration = "24h"
    """How long the replaced key stays valid after a rotation."""


class ApiKeyStatus(Model):
    """Where an issued key can be picked up."""

    name: str
    secret_name: str
    """The Secret holding the plaintext key under `api-key`."""
    expires_at: datetime.datetime | None = None
    rotated_at: datetime.datetime | None = None
    previous_key_expires_at: datetime.datetime | None = None
    """After a rotation, when the replaced key stops being accepted."""


class GatewayKeyStatus(ApiKeyStatus):
    """A key a VectorCluster issued a Gateway that references it."""

    gateway: str
    accepted: bool = False
    """Every member runs with credentials that hold the key (members read keys at start)."""


ApiKeyStatuses = Annotated[
    list[ApiKeyStatus],
    pydantic.Field(default_factory=list, max_length=256, json_schema_extra=list_map("name")),
]
