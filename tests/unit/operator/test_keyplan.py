"""API-key lifecycle: reuse, issue, rotate exactly once per token, expire the old key, revoke."""

from __future__ import annotations

import base64
import datetime
import itertools
from collections.abc import Callable

import pytest

from runestone_gateway import apikeys
from runestone_operator import keyplan, names
from runestone_operator.models import gateway

NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.UTC)
GRACE = datetime.timedelta(hours=24)


def _keys(*key_names: str) -> list[gateway.ApiKey]:
    return [gateway.ApiKey(name=name) for name in key_names]


@pytest.fixture
def generate() -> Callable[[], str]:
    counter = itertools.count()
    return lambda: f"{apikeys.PREFIX}{next(counter):043d}"


def test_new_keys_are_issued(generate: Callable[[], str]) -> None:
    plan = keyplan.plan(_keys("a", "b"), {}, [], {}, now=NOW, grace=GRACE, generate=generate)
    assert plan.issued == ("a", "b")
    assert [k.name for k in plan.keys] == ["a", "b"]
    assert plan.keys[0].plaintext != plan.keys[1].plaintext
    assert plan.rotated == plan.revoked == ()


def test_stored_keys_are_reused_never_regenerated(generate: Callable[[], str]) -> None:
    stored = {"a": keyplan.StoredKey("a", apikeys.generate())}
    plan = keyplan.plan(_keys("a"), stored, ["a"], {}, now=NOW, grace=GRACE, generate=generate)
    assert plan.keys == (stored["a"],)
    assert plan.issued == ()


def test_removed_keys_are_revoked(generate: Callable[[], str]) -> None:
    stored = {"a": keyplan.StoredKey("a", apikeys.generate())}
    plan = keyplan.plan(
        _keys("a"), stored, ["a", "gone"], {}, now=NOW, grace=GRACE, generate=generate
    )
    assert plan.revoked == ("gone",)


def test_rotation_happens_once_per_token(generate: Callable[[], str]) -> None:
    old = keyplan.StoredKey("a", apikeys.generate())
    plan = keyplan.plan(
        _keys("a"), {"a": old}, ["a"], {"a": "t1"}, now=NOW, grace=GRACE, generate=generate
    )
    assert plan.rotated == ("a",)
    (new,) = plan.keys
    assert new.plaintext != old.plaintext
    assert new.previous_sha256 == old.sha256
    assert new.previous_expires_at == NOW + GRACE
    assert new.rotation_token == "t1"
    assert new.rotated_at == NOW

    later = NOW + datetime.timedelta(minutes=5)
    again = keyplan.plan(
        _keys("a"), {"a": new}, ["a"], {"a": "t1"}, now=later, grace=GRACE, generate=generate
    )
    assert again.rotated == ()
    assert again.keys == (new,)


def test_a_token_present_at_issue_does_not_rotate_the_new_key(generate: Callable[[], str]) -> None:
    first = keyplan.plan(_keys("a"), {}, [], {"a": "t1"}, now=NOW, grace=GRACE, generate=generate)
    second = keyplan.plan(
        _keys("a"),
        {"a": first.keys[0]},
        ["a"],
        {"a": "t1"},
        now=NOW,
        grace=GRACE,
        generate=generate,
    )
    assert second.rotated == ()
    assert second.keys == first.keys


def test_old_key_is_dropped_when_its_grace_period_ends(generate: Callable[[], str]) -> None:
    rotated = keyplan.StoredKey(
        "a",
        apikeys.generate(),
        "t1",
        NOW,
        previous_sha256="0" * 64,
        previous_expires_at=NOW + GRACE,
    )
    during = keyplan.plan(
        _keys("a"),
        {"a": rotated},
        ["a"],
        {"a": "t1"},
        now=NOW + GRACE / 2,
        grace=GRACE,
        generate=generate,
    )
    assert during.keys[0].previous_sha256 == "0" * 64
    assert keyplan.next_change(during.keys) == NOW + GRACE
    after = keyplan.plan(
        _keys("a"),
        {"a": rotated},
        ["a"],
        {"a": "t1"},
        now=NOW + GRACE,
        grace=GRACE,
        generate=generate,
    )
    assert after.keys[0].previous_sha256 is None
    assert after.keys[0].plaintext == rotated.plaintext
    assert keyplan.next_change(after.keys) is None


def test_rotation_requests_come_from_prefixed_annotations() -> None:
    annotations = {
        f"{names.ROTATE_KEY_PREFIX}team-a": "2026-03-01",
        f"{names.ROTATE_KEY_PREFIX}team-b": "",
        "other/annotation": "x",
    }
    assert keyplan.rotation_requests(annotations) == {"team-a": "2026-03-01"}


def _secret(value: str, **annotations: str) -> dict[str, object]:
    return {
        "metadata": {"labels": {names.LABEL_API_KEY: "a"}, "annotations": annotations},
        "data": {names.API_KEY_DATA_KEY: base64.b64encode(value.encode()).decode()},
    }


def test_stored_key_is_read_from_its_secret() -> None:
    key = apikeys.generate()
    stored = keyplan.stored_from_secret(
        _secret(key, **{names.ROTATION_TOKEN: "t", names.ROTATED_AT: "2026-03-01T12:00:00Z"})
    )
    assert stored == keyplan.StoredKey("a", key, rotation_token="t", rotated_at=NOW)


@pytest.mark.parametrize("value", ["", "not-a-key", "rsk_short"])
def test_malformed_keys_are_not_reused(value: str) -> None:
    assert keyplan.stored_from_secret(_secret(value)) is None


def test_undecodable_secret_is_not_reused() -> None:
    assert keyplan.stored_from_secret({"data": {names.API_KEY_DATA_KEY: "%%%"}}) is None


def test_repr_never_shows_the_key() -> None:
    key = apikeys.generate()
    assert key not in repr(keyplan.StoredKey("a", key))
    assert key not in repr(keyplan.Plan((keyplan.StoredKey("a", key),)))
