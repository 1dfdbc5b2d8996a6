"""Condition types and reasons (named once, here) and the pure rules for updating conditions the
Kubernetes way: `lastTransitionTime` moves only when the status really changes."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from runestone_operator.core import models as common

READY = "Ready"
PROGRESSING = "Progressing"
DEGRADED = "Degraded"
TYPES = (READY, PROGRESSING, DEGRADED)
LIMITS_SHARED = "LimitsShared"
"""A Gateway: whether its replicas share one count of every key's limits and budgets (False,
a warning: each replica counts on its own)."""
VECTOR_STORE_READY = "VectorStoreReady"
"""A Gateway with `spec.vectorStores`: whether its link to the VectorCluster is usable (absent
without one)."""
RESTORED = "Restored"
"""A VectorCluster with `spec.restore`: whether its backup has been restored into it."""

TRUE: common.ConditionStatus = "True"
FALSE: common.ConditionStatus = "False"
UNKNOWN: common.ConditionStatus = "Unknown"


class Reason:
    """Every reason the operator writes into a condition or an Event."""

    # Healthy states.
    RECONCILED = "Reconciled"
    AVAILABLE = "Available"
    ROLLOUT_COMPLETE = "RolloutComplete"
    VALID = "Valid"
    # Transitional states.
    ROLLING_OUT = "RollingOut"
    PODS_NOT_READY = "PodsNotReady"
    WAITING_FOR_CERTIFICATE = "WaitingForCertificate"
    NOT_RECONCILED = "NotReconciled"
    # Problems only the operator can see (the API server cannot validate them).
    UNKNOWN_PROVIDER_POOL = "UnknownProviderPool"
    PROVIDER_POOL_INVALID = "ProviderPoolInvalid"
    MISSING_SECRET = "MissingSecret"  # noqa: S105 - a reason, not a secret
    CREDENTIAL_NOT_ALLOWED = "CredentialNotAllowed"
    """A provider's apiKeySecretRef names a Secret not labelled as a provider credential."""
    INVALID_CREDENTIAL = "InvalidCredential"
    """A provider credential that is not one header-safe token."""
    MODEL_NOT_SERVED = "ModelNotServed"
    INVALID_CONFIG = "InvalidConfig"
    NAME_TAKEN = "NameTaken"
    """A Gateway and a VectorCluster of one namespace share a name (see core.steps.namesakes)."""
    CERT_MANAGER_MISSING = "CertManagerMissing"
    SERVICE_MONITOR_UNAVAILABLE = "ServiceMonitorUnavailable"
    API_FORBIDDEN = "ApiForbidden"
    """The API server refused a call (HTTP 403): the operator's RBAC lacks a permission."""
    API_ERROR = "ApiError"
    """Any other failed call to the API server (5xx, unreachable, an unexpected 4xx)."""
    # Events about API keys (never carrying a key).
    KEY_ISSUED = "KeyIssued"
    KEY_ROTATED = "KeyRotated"
    KEY_REVOKED = "KeyRevoked"
    CERTIFICATE_ISSUED = "CertificateIssued"
    # Gateway: where limits and budgets are counted.
    SHARED_STORE = "SharedStore"
    SINGLE_REPLICA = "SingleReplica"
    PER_REPLICA_LIMITS = "PerReplicaLimits"
    # Gateway: the link to a VectorCluster (`VectorStoreReady`).
    LINKED = "Linked"
    VECTOR_CLUSTER_NOT_FOUND = "VectorClusterNotFound"
    VECTOR_CLUSTER_NOT_READY = "VectorClusterNotReady"
    GATEWAY_KEY_PENDING = "GatewayKeyPending"
    EMBEDDING_MODEL_NOT_SERVED = "EmbeddingModelNotServed"
    # VectorCluster: scaling, rolling restarts and backups.
    SCALING = "Scaling"
    SCALE_DOWN_REFUSED = "ScaleDownRefused"
    VOLUMES_GROWING = "VolumesGrowing"
    VOLUME_EXPANSION_REFUSED = "VolumeExpansionRefused"
    VOLUME_CANNOT_SHRINK = "VolumeCannotShrink"
    MEMBER_RESTARTED = "MemberRestarted"
    BACKUP_IN_PROGRESS = "BackupInProgress"
    BACKUP_STARTED = "BackupStarted"
    BACKUP_SUCCEEDED = "BackupSucceeded"
    BACKUP_FAILED = "BackupFailed"
    BACKUP_NOT_FOUND = "BackupNotFound"
    RESTORE_PENDING = "RestorePending"
    RESTORE_IN_PROGRESS = "RestoreInProgress"
    RESTORE_STARTED = "RestoreStarted"
    RESTORE_SUCCEEDED = "RestoreSucceeded"
    RESTORE_FAILED = "RestoreFailed"


@dataclass(frozen=True)
class Observation:
    """What a reconcile concluded about one condition type."""

    type: str
    status: common.ConditionStatus
    reason: str
    message: str


def merge(
    current: Sequence[common.Condition],
    observations: Sequence[Observation],
    generation: int | None,
    now: datetime.datetime,
) -> list[common.Condition]:
    """The new condition list: one entry per observed type, in `TYPES` order, keeping the old
    `lastTransitionTime` when the status did not change, and any condition types not observed."""
    by_type = {condition.type: condition for condition in current}
    observed = {observation.type: observation for observation in observations}
    result: list[common.Condition] = []
    order = [*TYPES, *sorted((set(by_type) | set(observed)) - set(TYPES))]
    for kind in order:
        previous = by_type.get(kind)
        observation = observed.get(kind)
        if observation is None:
            if previous is not None:
                result.append(previous)
            continue
        since = now
        if previous is not None and previous.status == observation.status:
            since = previous.last_transition_time
        result.append(
            common.Condition(
                type=kind,
                status=observation.status,
                reason=observation.reason,
                message=observation.message,
                last_transition_time=since,
                observed_generation=generation,
            )
        )
    return result


def find(conditions: Sequence[common.Condition], kind: str) -> common.Condition | None:
    return next((condition for condition in conditions if condition.type == kind), None)
