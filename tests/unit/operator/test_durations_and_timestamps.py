"""Go-style durations and Kubernetes timestamps."""

from __future__ import annotations

import datetime

import pytest

from runestone_operator.core import durations, timestamps


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("24h", 86400), ("1h30m", 5400), ("500ms", 0.5), ("1.5h", 5400)],
)
def test_parse(text: str, seconds: float) -> None:
    assert durations.parse(text) == datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "10", "1d", "h", "1h junk", " 1h"])
def test_refuse(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        durations.parse(text)


def test_timestamps_round_trip_at_second_precision() -> None:
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=datetime.UTC)
    text = timestamps.render(moment)
    assert text == "2026-01-02T03:04:05Z"
    assert timestamps.parse(text) == timestamps.truncate(moment)
    with pytest.raises(ValueError, match="timezone"):
        timestamps.parse("2026-01-02T03:04:05")
