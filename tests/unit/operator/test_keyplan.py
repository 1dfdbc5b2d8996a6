"""API-key lifecycle: reuse, issue, rotate exactly once per token, expire the old key, revoke."""

from __future__ import annotations

import base64
import datetime
import itertools
import json
from collections.abc import Callable

import pytest

from runestone_gateway import apikeys
from runestone_operator.core import keyplan, names
from runestone_operator.gateway import model as gateway
from runestone_operator.vectorcluster import model as vectorcluster

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
    assert new.previous == (keyplan.PreviousKey(old.sha256, NOW + GRACE),)
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
        previous=(keyplan.PreviousKey("0" * 64, NOW + GRACE),),
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
    assert during.keys[0].previous == rotated.previous
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
    assert after.keys[0].previous == ()
    assert after.keys[0].plaintext == rotated.plaintext
    assert keyplan.next_change(after.keys) is None


def test_a_second_rotation_within_the_grace_period_keeps_the_first_old_key(
    generate: Callable[[], str],
) -> None:
    original = keyplan.StoredKey("a", apikeys.generate())
    first = keyplan.plan(
        _keys("a"), {"a": original}, ["a"], {"a": "t1"}, now=NOW, grace=GRACE, generate=generate
    )
    (after_first,) = first.keys
    later = NOW + datetime.timedelta(hours=1)
    second = keyplan.plan(
        _keys("a"),
        {"a": after_first},
        ["a"],
        {"a": "t2"},
        now=later,
        grace=GRACE,
        generate=generate,
    )
    assert second.rotated == ("a",)
    (after_second,) = second.keys
    assert after_second.plaintext not in (original.plaintext, after_first.plaintext)
    # Both replaced keys stay accepted, each until its own grace period ends.
    assert after_second.previous == (
        keyplan.PreviousKey(original.sha256, NOW + GRACE),
        keyplan.PreviousKey(after_first.sha256, later + GRACE),
    )
    assert keyplan.next_change(second.keys) == NOW + GRACE
    assert after_second.previous_expires_at == later + GRACE

    # The original's grace period ends first: it goes, the first replacement stays.
    third = keyplan.plan(
        _keys("a"),
        {"a": after_second},
        ["a"],
        {"a": "t2"},
        now=NOW + GRACE,
        grace=GRACE,
        generate=generate,
    )
    assert third.rotated == ()
    assert third.keys[0].plaintext == after_second.plaintext
    assert third.keys[0].previous == (keyplan.PreviousKey(after_first.sha256, later + GRACE),)
    assert keyplan.next_change(third.keys) == later + GRACE

    gone = keyplan.plan(
        _keys("a"),
        {"a": after_second},
        ["a"],
        {"a": "t2"},
        now=later + GRACE,
        grace=GRACE,
        generate=generate,
    )
    assert gone.keys[0].previous == ()
    assert gone.keys[0].previous_expires_at is None
    assert keyplan.next_change(gone.keys) is None


def test_replaced_keys_are_bounded(generate: Callable[[], str]) -> None:
    key = keyplan.StoredKey("a", apikeys.generate())
    replaced = []
    for turn in range(keyplan.MAX_PREVIOUS_KEYS + 3):
        replaced.append(key.sha256)
        (key,) = keyplan.plan(
            _keys("a"),
            {"a": key},
            ["a"],
            {"a": f"t{turn}"},
            now=NOW,
            grace=GRACE,
            generate=generate,
        ).keys
    assert [old.sha256 for old in key.previous] == replaced[-keyplan.MAX_PREVIOUS_KEYS :]


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


def test_replaced_keys_round_trip_through_their_annotation() -> None:
    previous = (
        keyplan.PreviousKey("0" * 64, NOW),
        keyplan.PreviousKey("f" * 64, NOW + GRACE),
    )
    text = keyplan.render_previous(previous)
    assert json.loads(text) == [
        {"sha256": "0" * 64, "expiresAt": "2026-03-01T12:00:00Z"},
        {"sha256": "f" * 64, "expiresAt": "2026-03-02T12:00:00Z"},
    ]
    key = apikeys.generate()
    stored = keyplan.stored_from_secret(_secret(key, **{names.PREVIOUS_KEYS: text}))
    assert stored == keyplan.StoredKey("a", key, previous=previous)


GOOD_ENTRY = {"sha256": "a" * 64, "expiresAt": "2026-03-01T12:00:00Z"}


@pytest.mark.parametrize(
    ("annotation", "kept"),
    [
        ("not json", 0),
        ("{", 0),
        ('{"sha256": "x"}', 0),
        ("null", 0),
        ("[1, null, []]", 0),
        (json.dumps([{"sha256": "A" * 64, "expiresAt": "2026-03-01T12:00:00Z"}]), 0),
        (json.dumps([{"sha256": "a" * 63, "expiresAt": "2026-03-01T12:00:00Z"}]), 0),
        (json.dumps([{"sha256": "a" * 64, "expiresAt": "yesterday"}]), 0),
        (json.dumps([{"sha256": "a" * 64, "expiresAt": "2026-03-01T12:00:00"}]), 0),
        (json.dumps([{"sha256": "a" * 64, "expiresAt": 1767225600}]), 0),
        (json.dumps([{"sha256": "a" * 64}, GOOD_ENTRY]), 1),
        (json.dumps(["junk", GOOD_ENTRY]), 1),
    ],
)
def test_a_malformed_annotation_never_loses_the_current_key(annotation: str, kept: int) -> None:
    key = apikeys.generate()
    stored = keyplan.stored_from_secret(_secret(key, **{names.PREVIOUS_KEYS: annotation}))
    assert stored is not None
    assert stored.plaintext == key
    assert stored.previous == (keyplan.PreviousKey("a" * 64, NOW),) * kept


@pytest.mark.parametrize("value", ["", "not-a-key", "rsk_short"])
def test_malformed_keys_are_not_reused(value: str) -> None:
    assert keyplan.stored_from_secret(_secret(value)) is None


def test_undecodable_secret_is_not_reused() -> None:
    assert keyplan.stored_from_secret({"data": {names.API_KEY_DATA_KEY: "%%%"}}) is None


def test_repr_never_shows_the_key() -> None:
    key = apikeys.generate()
    assert key not in repr(keyplan.StoredKey("a", key))
    assert key not in repr(keyplan.Plan((keyplan.StoredKey("a", key),)))


def test_any_kinds_keys_are_planned_by_name() -> None:
    """A VectorCluster's keys (a name and a role) go through the same plan as a Gateway's."""
    wanted = [vectorcluster.VectorApiKey(name="reader", role="viewer")]
    plan = keyplan.plan(wanted, {}, ["gone"], {}, now=NOW, grace=GRACE)
    assert [key.name for key in plan.keys] == ["reader"]
    assert plan.issued == ("reader",)
    assert plan.revoked == ("gone",)
