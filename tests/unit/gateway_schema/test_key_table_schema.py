"""The key-table document the operator writes and the gateway reads."""

from __future__ import annotations

import pydantic
import pytest

from runestone_gateway import config


def test_entry_round_trips_with_crd_style_names() -> None:
    document = {
        "keys": [
            {
                "id": "team-a",
                "sha256": "a" * 64,
                "tenant": "ml/main",
                "models": ["gpt-4o-mini"],
                "limits": {
                    "requestsPerMinute": 600,
                    "tokensPerMinute": 100000,
                    "maxConcurrentRequests": 20,
                },
                "budget": {"usd": "100", "period": "monthly"},
                "expiresAt": "2027-01-01T00:00:00Z",
            }
        ]
    }
    table = config.KeyTable.model_validate(document)
    entry = table.keys[0]
    assert entry.limits.tokens_per_minute == 100000
    assert entry.expires_at is not None
    assert entry.expires_at.tzinfo is not None
    assert table.to_document()["keys"][0]["limits"]["maxConcurrentRequests"] == 20


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"id": "a", "sha256": "A" * 64}, "should match pattern"),
        ({"id": "a", "sha256": "a" * 64, "plaintext": "rsk_x"}, "Extra inputs are not permitted"),
        (
            {"id": "a", "sha256": "a" * 64, "limits": {"requestsPerMinute": 0}},
            "greater than or equal to 1",
        ),
        ({"id": "a", "sha256": "a" * 64, "budget": {"usd": "-1"}}, "should match pattern"),
    ],
)
def test_invalid_entries_are_refused(entry: dict[str, object], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        config.KeyTable.model_validate({"keys": [entry]})


def test_redis_store_needs_a_url() -> None:
    with pytest.raises(pydantic.ValidationError, match="needs url or urlFile"):
        config.RateLimitStore(type="redis")
    assert (
        config.RateLimitStore(type="redis", url_file="/run/secrets/redis-url").fail_mode == "open"
    )
