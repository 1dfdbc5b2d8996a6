"""API keys follow the spec: added keys are issued, removed keys revoked, and an annotation rotates
a key exactly once per token while the old key stays in the table until its grace period ends."""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

import yaml
from kubernetes import client

from devcluster.kube import eventually
from integration.operator import objects
from runestone_gateway import apikeys, config
from runestone_operator.core import names as core_names
from runestone_operator.gateway import names

GRACE = "20s"
SPACING = datetime.timedelta(seconds=15)
"""Between the two rotations of the double-rotation test."""


def _table(
    api: client.ApiClient, namespace: str, gateway: str = "keys"
) -> list[config.KeyTableEntry]:
    text = objects.secret_text(api, namespace, names.key_table_secret(gateway), "keys.yaml")
    return config.KeyTable.model_validate(yaml.safe_load(text)).keys


def _table_with(
    api: client.ApiClient, namespace: str, size: int, gateway: str = "keys"
) -> list[config.KeyTableEntry]:
    table = _table(api, namespace, gateway)
    assert len(table) == size, f"{len(table)} entries"
    return table


def _key(api: client.ApiClient, namespace: str, name: str, gateway: str = "keys") -> str:
    return objects.secret_text(api, namespace, names.key_secret(gateway, name), "api-key")


def _rotate(api: client.ApiClient, namespace: str, gateway: str, key: str, token: str) -> None:
    annotations = {f"{core_names.ROTATE_KEY_PREFIX}{key}": token}
    objects.patch(api, namespace, "gateways", gateway, {"metadata": {"annotations": annotations}})


def _set_keys(api: client.ApiClient, namespace: str, keys: list[dict[str, Any]]) -> int:
    patched = objects.patch(api, namespace, "gateways", "keys", {"spec": {"apiKeys": keys}})
    return int(patched["metadata"]["generation"])


def _reconciled(api: client.ApiClient, namespace: str, generation: int) -> dict[str, Any]:
    gateway = objects.read(api, namespace, "gateways", "keys")
    assert gateway["status"].get("observedGeneration") == generation
    return gateway


def _events(api: client.ApiClient, namespace: str, reason: str) -> list[str]:
    listed = client.CoreV1Api(api).list_namespaced_event(
        namespace, field_selector=f"reason={reason}"
    )
    return [event.message for event in listed.items]


def test_keys_are_issued_revoked_and_rotated(kube_api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube_api)
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(
        kube_api,
        namespace,
        objects.gateway(
            "keys",
            apiKeys=[{"name": "a"}],
            keyRotation={"gracePeriod": GRACE},
            tls={"mode": "none"},
        ),
    )
    key_a = eventually(lambda: _key(kube_api, namespace, "a"), timeout=60, what="key a")
    # The key's Secret is written a step before the key table: wait for the table too.
    table = eventually(lambda: _table_with(kube_api, namespace, 1), timeout=60, what="the table")
    assert [(e.id, e.sha256) for e in table] == [("a", apikeys.digest(key_a))]

    # Add a key with an expiry: issued, hashed into the table with its expiry, listed in status.
    generation = _set_keys(
        kube_api, namespace, [{"name": "a"}, {"name": "b", "expiresAt": "2030-01-01T00:00:00Z"}]
    )
    key_b = eventually(lambda: _key(kube_api, namespace, "b"), timeout=60, what="key b")
    table = eventually(
        lambda: _table_with(kube_api, namespace, 2),
        timeout=60,
        what="key b in the table",
    )
    entry_b = next(e for e in table if e.id == "b")
    assert entry_b.sha256 == apikeys.digest(key_b)
    assert entry_b.expires_at == datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    gateway = eventually(lambda: _reconciled(kube_api, namespace, generation), what="status")
    assert [k["secretName"] for k in gateway["status"]["apiKeys"]] == ["keys-key-a", "keys-key-b"]
    assert _key(kube_api, namespace, "a") == key_a  # adding b left a alone

    # Remove it: its Secret goes and the table no longer accepts it.
    generation = _set_keys(kube_api, namespace, [{"name": "a"}])
    eventually(
        lambda: not objects.exists(core.read_namespaced_secret, "keys-key-b", namespace),
        timeout=60,
        what="key b's Secret to be deleted",
    )
    assert [e.id for e in _table(kube_api, namespace)] == ["a"]
    gateway = eventually(lambda: _reconciled(kube_api, namespace, generation), what="status")
    assert [k["name"] for k in gateway["status"]["apiKeys"]] == ["a"]
    eventually(lambda: _events(kube_api, namespace, "KeyRevoked"), what="a KeyRevoked event")

    # Rotate a: a new key, and the old hash stays accepted until the grace period ends.
    objects.patch(
        kube_api,
        namespace,
        "gateways",
        "keys",
        {"metadata": {"annotations": {f"{core_names.ROTATE_KEY_PREFIX}a": "t1"}}},
    )

    def rotated_key() -> str:
        current = _key(kube_api, namespace, "a")
        assert current != key_a
        return current

    rotated = eventually(rotated_key, timeout=60, what="rotation")
    table = eventually(
        lambda: _table_with(kube_api, namespace, 2),
        timeout=60,
        what="the table to hold the new and the old key",
    )
    observed_at = datetime.datetime.now(datetime.UTC)
    new, old = table
    assert (new.id, new.sha256, new.expires_at) == ("a", apikeys.digest(rotated), None)
    assert (old.id, old.sha256) == ("a", apikeys.digest(key_a))
    assert old.expires_at is not None
    assert observed_at < old.expires_at  # the old key is still valid while its grace period runs

    def rotation_status() -> dict[str, Any]:
        key_status = objects.read(kube_api, namespace, "gateways", "keys")["status"]["apiKeys"][0]
        assert "previousKeyExpiresAt" in key_status
        return dict(key_status)

    status = eventually(rotation_status, what="the rotation in status")
    rotated_at = datetime.datetime.fromisoformat(status["rotatedAt"])
    assert old.expires_at == rotated_at + datetime.timedelta(seconds=20)
    eventually(lambda: _events(kube_api, namespace, "KeyRotated"), what="a KeyRotated event")

    # Idempotent: a later reconcile (a spec change) with the annotation still there rotates nothing.
    generation = _set_keys(kube_api, namespace, [{"name": "a"}, {"name": "c"}])
    eventually(lambda: _key(kube_api, namespace, "c"), timeout=60, what="key c")
    eventually(lambda: _reconciled(kube_api, namespace, generation), what="status")
    assert _key(kube_api, namespace, "a") == rotated

    # When the grace period is over, only the new key remains.
    eventually(
        lambda: (
            sorted((e.id, e.sha256) for e in _table(kube_api, namespace))
            == sorted(
                [
                    ("a", apikeys.digest(rotated)),
                    ("c", apikeys.digest(_key(kube_api, namespace, "c"))),
                ]
            )
        ),
        timeout=120,
        interval=1,
        what="the old key to leave the table after its grace period",
    )
    assert _key(kube_api, namespace, "a") == rotated

    # A new token rotates again.
    objects.patch(
        kube_api,
        namespace,
        "gateways",
        "keys",
        {"metadata": {"annotations": {f"{core_names.ROTATE_KEY_PREFIX}a": "t2"}}},
    )
    eventually(
        lambda: _key(kube_api, namespace, "a") not in (key_a, rotated),
        timeout=60,
        what="second rotation",
    )
    # Key values never reach events or conditions.
    gateway = objects.read(kube_api, namespace, "gateways", "keys")
    every_message = " ".join(
        [
            *(c["message"] for c in gateway["status"]["conditions"]),
            *(e.message for e in core.list_namespaced_event(namespace).items),
        ]
    )
    assert apikeys.PREFIX not in every_message


def test_a_second_rotation_keeps_the_first_old_key_until_its_own_grace_ends(
    kube_api: client.ApiClient, namespace: str
) -> None:
    grace = datetime.timedelta(seconds=45)
    objects.create(kube_api, namespace, objects.mock_pool("mock"))
    objects.create(
        kube_api,
        namespace,
        objects.gateway(
            "twice",
            apiKeys=[{"name": "a"}],
            keyRotation={"gracePeriod": "45s"},
            tls={"mode": "none"},
        ),
    )
    original = eventually(lambda: _key(kube_api, namespace, "a", "twice"), timeout=60, what="a")

    def replaced(*before: str) -> str:
        current = _key(kube_api, namespace, "a", "twice")
        assert current not in before
        return current

    def rotated_at() -> datetime.datetime:
        status = objects.read(kube_api, namespace, "gateways", "twice").get("status") or {}
        return datetime.datetime.fromisoformat(status["apiKeys"][0]["rotatedAt"])

    _rotate(kube_api, namespace, "twice", "a", "t1")
    first = eventually(lambda: replaced(original), timeout=60, what="the first rotation")
    first_at = eventually(rotated_at, what="the first rotation in status")
    # Space the rotations so the two grace periods end well apart, even on a loaded machine.
    time.sleep(max((first_at + SPACING - datetime.datetime.now(datetime.UTC)).total_seconds(), 0))
    _rotate(kube_api, namespace, "twice", "a", "t2")
    second = eventually(lambda: replaced(original, first), timeout=60, what="the second rotation")

    def second_rotation_in_status() -> datetime.datetime:
        moment = rotated_at()
        assert moment > first_at
        return moment

    second_at = eventually(second_rotation_in_status, what="the second rotation in status")

    # All three keys are accepted: the current one, and each replaced key until its own grace ends.
    table = eventually(
        lambda: _table_with(kube_api, namespace, 3, "twice"),
        timeout=60,
        what="the table to hold the new key and both old ones",
    )
    assert second_at < first_at + grace  # the second came within the first's grace
    assert [(e.id, e.sha256, e.expires_at) for e in table] == [
        ("a", apikeys.digest(second), None),
        ("a", apikeys.digest(original), first_at + grace),
        ("a", apikeys.digest(first), second_at + grace),
    ]
    status = objects.read(kube_api, namespace, "gateways", "twice")["status"]["apiKeys"][0]
    assert datetime.datetime.fromisoformat(status["previousKeyExpiresAt"]) == second_at + grace
    secret = client.CoreV1Api(kube_api).read_namespaced_secret(
        names.key_secret("twice", "a"), namespace
    )
    listed = json.loads(secret.metadata.annotations[core_names.PREVIOUS_KEYS])
    assert [entry["sha256"] for entry in listed] == [
        apikeys.digest(original),
        apikeys.digest(first),
    ]
    assert original not in str(secret.metadata.annotations)

    # The original key leaves when its grace period ends; the first replacement stays until its own.
    def without_original() -> list[config.KeyTableEntry]:
        current = _table_with(kube_api, namespace, 2, "twice")
        assert datetime.datetime.now(datetime.UTC) < second_at + grace, "too late to tell"
        return current

    table = eventually(
        without_original, timeout=90, interval=0.5, what="the original key to leave the table"
    )
    assert datetime.datetime.now(datetime.UTC) >= first_at + grace
    assert [(e.sha256, e.expires_at) for e in table] == [
        (apikeys.digest(second), None),
        (apikeys.digest(first), second_at + grace),
    ]
    table = eventually(
        lambda: _table_with(kube_api, namespace, 1, "twice"),
        timeout=120,
        interval=1,
        what="the first replacement to leave the table",
    )
    assert datetime.datetime.now(datetime.UTC) >= second_at + grace
    assert table[0].sha256 == apikeys.digest(second)
    eventually(
        lambda: (
            "previousKeyExpiresAt"
            not in objects.read(kube_api, namespace, "gateways", "twice")["status"]["apiKeys"][0]
        ),
        what="status to list no replaced key",
    )
