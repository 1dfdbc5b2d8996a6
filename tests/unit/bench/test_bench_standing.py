"""bench/overhead_report.py's standing: Runestone against each peer in every cell both were
measured in, from the added latency over the same cell's direct, with the cores Runestone kept
busy and where the bare hop stands against the same peer, and at c=1 against the bare hop;
paced targets, floors and errored cells are not peers."""

from __future__ import annotations

import loadgen
import overhead_report


def _cell(
    target: str,
    concurrency: int,
    ms: float,
    stream: bool = False,
    errors: int = 0,
    cpu: float = 0.0,
) -> overhead_report.Cell:
    cell = overhead_report.Cell(target, stream=stream, concurrency=concurrency)
    seconds = [ms / 1000] * 100  # every percentile is `ms`
    samples = loadgen.Samples(latencies=list(seconds), elapsed=2.0, errors=errors)
    if stream:
        samples.first_bytes = list(seconds)
    cell.add(samples, cpu=cpu)
    return cell


def _standing(cells: list[overhead_report.Cell]) -> list[str]:
    direct = {(c.stream, c.concurrency): c for c in cells if c.target == "direct"}
    return overhead_report.standing(cells, direct)


def test_each_cell_says_ahead_or_behind_the_peer_by_the_added_difference() -> None:
    lines = _standing(
        [
            _cell("direct", 16, 5.0),
            _cell("runestone", 16, 5.8),  # added 0.8
            _cell("tensorzero", 16, 5.5),  # added 0.5
            _cell("direct", 64, 6.0, stream=True),
            _cell("runestone", 64, 6.2, stream=True),
            _cell("tensorzero", 64, 7.0, stream=True),
        ]
    )
    assert lines[1].startswith("where runestone stands")
    assert any(
        "against tensorzero" in line
        and "whole" in line
        and "c=16" in line
        and "p50 behind 0.30" in line
        and "p99 behind 0.30" in line
        for line in lines
    )
    assert any(
        "first token" in line and "c=64" in line and "p50 ahead 0.80, p99 ahead 0.80" in line
        for line in lines
    )


def test_a_cell_says_the_cores_runestone_kept_busy_and_where_the_bare_hop_stands() -> None:
    lines = _standing(
        [
            _cell("direct", 16, 5.0),
            _cell("runestone", 16, 5.8, cpu=1.9),  # 2 s measured: 0.95 cores
            _cell("tensorzero", 16, 5.5),
            _cell("floor-raw", 16, 5.6),  # added 0.6: the hop is behind too
            _cell("direct", 1, 5.0),
            _cell("runestone", 1, 5.3),
            _cell("tensorzero", 1, 5.6),
        ]
    )
    (c16,) = [line for line in lines if "c=16" in line]
    assert c16.endswith(
        "p50 behind 0.30, p99 behind 0.30; runestone kept 0.95 cores busy; "
        "floor-raw: p50 behind 0.10, p99 behind 0.10"
    )
    (c1,) = [line for line in lines if "against" in line and "c=1 " in line]
    assert c1.endswith("p50 ahead 0.30, p99 ahead 0.30")  # no CPU recorded, no hop measured


def test_paced_floor_and_errored_cells_are_not_peers_and_c1_is_against_the_bare_hop() -> None:
    lines = _standing(
        [
            _cell("direct", 1, 5.0),
            _cell("runestone", 1, 5.35),
            _cell("floor-raw", 1, 5.2),
            _cell("runestone" + overhead_report.AT_RATE, 1, 5.1),
            _cell("before", 1, 5.1),
            _cell("portkey", 1, 5.1, errors=3),
        ]
    )
    assert not any("against" in line for line in lines)
    assert any(
        "at c=1 whole: added p50 0.15 ms above floor-raw's (beyond" in line for line in lines
    )


def test_nothing_to_compare_prints_nothing() -> None:
    assert _standing([_cell("direct", 16, 5.0), _cell("runestone", 16, 5.5)]) == []


def test_at_the_peers_rate_only_the_peer_is_set_beside_paced_runestone() -> None:
    paced_direct = _cell("direct" + overhead_report.AT_RATE, 16, 5.0)
    cells = [
        _cell("runestone" + overhead_report.AT_RATE, 16, 5.4),
        _cell("tensorzero", 16, 5.6),
        _cell("floor-raw", 16, 5.3),
        _cell("before", 16, 5.3),
    ]
    lines = overhead_report.at_rate_summary(cells, {("chat", False, 16): paced_direct})
    compared = [line for line in lines if "added p50 / p99" in line]
    assert len(compared) == 1
    assert "tensorzero 0.60 / 0.60 ms; runestone 0.40 / 0.40 ms" in compared[0]
