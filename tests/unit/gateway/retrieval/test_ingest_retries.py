"""An ingestion's embedding call that fails for a passing reason is tried again after a pause;
one refused for good (a bad request, an exhausted budget) fails the file at once."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from runestone_gateway import errors
from runestone_gateway.retrieval import ingest


class Flaky:
    """Refuses the first `failures` calls with `error`, then embeds."""

    def __init__(self, failures: int, error: errors.GatewayError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    async def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return [[1.0] for _ in texts]


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "EMBED_PAUSES", (0.0, 0.0))


def unavailable() -> errors.GatewayError:
    return errors.GatewayError(503, "away", type=errors.UPSTREAM, code="upstream_rate_limited")


async def test_a_passing_failure_is_tried_again() -> None:
    embed = Flaky(2, unavailable())
    assert await ingest._embedded(embed, ["a", "b"]) == [[1.0], [1.0]]
    assert embed.calls == 3


async def test_three_passing_failures_fail_the_file() -> None:
    embed = Flaky(3, unavailable())
    with pytest.raises(errors.GatewayError):
        await ingest._embedded(embed, ["a"])
    assert embed.calls == 3


@pytest.mark.parametrize(
    "error",
    [
        errors.GatewayError(400, "bad", type=errors.INVALID_REQUEST),
        errors.GatewayError(
            429, "spent", type=errors.INVALID_REQUEST, code=errors.INSUFFICIENT_QUOTA
        ),
    ],
)
async def test_a_lasting_refusal_fails_at_once(error: errors.GatewayError) -> None:
    embed = Flaky(1, error)
    with pytest.raises(errors.GatewayError):
        await ingest._embedded(embed, ["a"])
    assert embed.calls == 1
