"""The key table holds hashes only; the key Secret (the same for every kind) holds the plaintext
and rotation state, plus the kind's own annotations."""

from __future__ import annotations

import base64
import datetime
import json

import yaml

from runestone_gateway import apikeys, config
from runestone_operator.core import keyplan, meta, names
from runestone_operator.core.builders import keys
from runestone_operator.gateway import model as gateway
from runestone_operator.gateway import names as gateway_names
from runestone_operator.gateway.builders import keytable

UTC = datetime.UTC
KEY_A = apikeys.PREFIX + "a" * 43
KEY_OLD = apikeys.PREFIX + "o" * 43
KEY_B = apikeys.PREFIX + "b" * 43


def test_table_lists_hashes_with_metadata(gateway_spec: gateway.GatewaySpec) -> None:
    keys = [keyplan.StoredKey("team-a", KEY_A), keyplan.StoredKey("team-b", KEY_B)]
    table = keytable.key_table(gateway_spec.api_keys, keys, "team/main")
    first, second = table.keys
    assert first.id == "team-a"
    assert first.sha256 == apikeys.digest(KEY_A)
    assert first.tenant == "team/main"
    assert first.models == ["gpt-4o-mini"]
    assert first.limits.requests_per_minute == 600
    assert first.budget == config.KeyBudget(usd="100", period="monthly")
    assert first.expires_at == datetime.datetime(2027, 1, 1, tzinfo=UTC)
    assert second.models == ["*"]
    assert second.expires_at is None


def test_rotated_key_keeps_the_old_hash_until_grace_ends(gateway_spec: gateway.GatewaySpec) -> None:
    grace_end = datetime.datetime(2026, 6, 1, tzinfo=UTC)
    previous = (keyplan.PreviousKey(apikeys.digest(KEY_OLD), grace_end),)
    keys = [keyplan.StoredKey("team-b", KEY_B, previous=previous)]
    table = keytable.key_table(gateway_spec.api_keys, keys, "team/main")
    assert [(e.id, e.sha256, e.expires_at) for e in table.keys] == [
        ("team-b", apikeys.digest(KEY_B), None),
        ("team-b", apikeys.digest(KEY_OLD), grace_end),
    ]


def test_every_replaced_key_gets_an_entry_with_its_own_expiry(
    gateway_spec: gateway.GatewaySpec,
) -> None:
    first_end = datetime.datetime(2026, 6, 1, tzinfo=UTC)
    second_end = datetime.datetime(2026, 6, 2, tzinfo=UTC)
    previous = (
        keyplan.PreviousKey("1" * 64, first_end),
        keyplan.PreviousKey("2" * 64, second_end),
    )
    keys = [keyplan.StoredKey("team-b", KEY_B, previous=previous)]
    table = keytable.key_table(gateway_spec.api_keys, keys, "t")
    assert [(e.id, e.sha256, e.expires_at) for e in table.keys] == [
        ("team-b", apikeys.digest(KEY_B), None),
        ("team-b", "1" * 64, first_end),
        ("team-b", "2" * 64, second_end),
    ]
    # The old keys share the key's models, limits and budget.
    assert {(e.models[0], e.limits.requests_per_minute) for e in table.keys} == {
        (table.keys[0].models[0], table.keys[0].limits.requests_per_minute)
    }


def test_old_key_never_outlives_the_keys_own_expiry(gateway_spec: gateway.GatewaySpec) -> None:
    early = datetime.datetime(2026, 12, 1, tzinfo=UTC)
    late = datetime.datetime(2030, 1, 1, tzinfo=UTC)
    previous = (keyplan.PreviousKey("0" * 64, early), keyplan.PreviousKey("1" * 64, late))
    keys = [keyplan.StoredKey("team-a", KEY_A, previous=previous)]
    table = keytable.key_table(gateway_spec.api_keys, keys, "t")
    key_expiry = datetime.datetime(2027, 1, 1, tzinfo=UTC)
    assert [e.expires_at for e in table.keys] == [key_expiry, early, key_expiry]


def test_key_table_secret_has_no_plaintext(
    owner: meta.Owner, gateway_spec: gateway.GatewaySpec
) -> None:
    keys = [keyplan.StoredKey("team-a", KEY_A), keyplan.StoredKey("team-b", KEY_B)]
    secret = keytable.key_table_secret(owner, keytable.key_table(gateway_spec.api_keys, keys, "t"))
    assert secret["metadata"]["name"] == "main-keytable"
    text = base64.b64decode(secret["data"]["keys.yaml"]).decode()
    assert KEY_A not in text
    assert KEY_B not in text
    parsed = config.KeyTable.model_validate(yaml.safe_load(text))
    assert {entry.sha256 for entry in parsed.keys} == {apikeys.digest(KEY_A), apikeys.digest(KEY_B)}


def test_key_secret_carries_key_and_rotation_state(owner: meta.Owner) -> None:
    moment = datetime.datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    key = keyplan.StoredKey(
        "team-a",
        KEY_A,
        rotation_token="r1",
        rotated_at=moment,
        previous=(
            keyplan.PreviousKey("e" * 64, moment + datetime.timedelta(hours=1)),
            keyplan.PreviousKey("f" * 64, moment + datetime.timedelta(hours=24)),
        ),
    )
    secret = keys.key_secret(owner, gateway_names.gateway_labels("main"), key)
    metadata = secret["metadata"]
    assert metadata["name"] == "main-key-team-a"
    assert metadata["labels"][names.LABEL_API_KEY] == "team-a"
    assert metadata["labels"][names.LABEL_INSTANCE] == "main"
    assert metadata["ownerReferences"][0]["uid"] == "uid-1234"
    assert metadata["annotations"] == {
        names.PREVIOUS_KEYS: json.dumps(
            [
                {"sha256": "e" * 64, "expiresAt": "2026-05-01T13:00:00Z"},
                {"sha256": "f" * 64, "expiresAt": "2026-05-02T12:00:00Z"},
            ],
            separators=(",", ":"),
        ),
        names.ROTATED_AT: "2026-05-01T12:00:00Z",
        names.ROTATION_TOKEN: "r1",
    }
    assert base64.b64decode(secret["data"]["api-key"]).decode() == KEY_A
    # What the builder writes, the lifecycle reads back unchanged.
    assert keyplan.stored_from_secret(secret) == key


def test_fresh_key_secret_has_no_annotations(owner: meta.Owner) -> None:
    secret = keys.key_secret(
        owner, gateway_names.gateway_labels("main"), keyplan.StoredKey("k", KEY_A)
    )
    assert "annotations" not in secret["metadata"]


def test_a_kinds_own_annotations_join_the_rotation_state(owner: meta.Owner) -> None:
    key = keyplan.StoredKey("k", KEY_A, rotation_token="r1")
    secret = keys.key_secret(owner, {}, key, {"runestone.dev/role": "admin"})
    assert secret["metadata"]["annotations"] == {
        names.ROTATION_TOKEN: "r1",
        "runestone.dev/role": "admin",
    }
    assert secret["metadata"]["labels"] == {names.LABEL_API_KEY: "k"}


def test_a_retained_key_secret_has_no_owner(owner: meta.Owner) -> None:
    """A Gateway's `deletionPolicy: Retain`: the key outlives the Gateway, for a re-created one
    of the same name to adopt."""
    key = keyplan.StoredKey("k", KEY_A)
    secret = keys.key_secret(owner, gateway_names.gateway_labels("main"), key, owned=False)
    assert "ownerReferences" not in secret["metadata"]
    assert secret["metadata"]["labels"][names.LABEL_INSTANCE] == "main"
