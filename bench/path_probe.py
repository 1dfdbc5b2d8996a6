"""Runs `runestone gateway …` with clocks at the edges of the gateway's own work on a request;
started by bench/gateway_path.py, not by hand.

    python bench/path_probe.py gateway --config … (the `runestone` command's arguments)

It wraps four methods of the gateway's two HTTP protocols (the API port's server and the
upstream client) to take a timestamp when a request's bytes arrive, when the request leaves for
the upstream, when the upstream's answer arrives and when the answer (for a stream: its first
event) is written to the client. Between those marks the gateway runs its own code only, so
their differences are its work per request, without the wake-ups of the processes around it.
It also times the garbage collector's passes. At exit the durations (microseconds) are written
as JSON to $RUNESTONE_PATH_PROBE_OUT. Meant for one request at a time: with several in flight
the marks of different requests would mix."""

from __future__ import annotations

import atexit
import gc
import os
import sys
import time
from typing import Any

import orjson

from runestone_gateway import http1
from runestone_gateway.providers import h1

_clock = time.perf_counter_ns
_marks: dict[str, int] = {}
_inbound: list[int] = []  # request bytes in -> request out to the upstream
_outbound: list[int] = []  # upstream answer in -> answer out to the client
_collections: list[tuple[int, int]] = []  # (generation, duration)
_collecting = [0]


def _wrap(cls: Any, name: str, before: Any) -> None:
    original = getattr(cls, name)

    def wrapper(self: Any, *args: Any) -> Any:
        before()
        return original(self, *args)

    setattr(cls, name, wrapper)


def _request_in() -> None:
    _marks.clear()
    _marks["in"] = _clock()


def _upstream_out() -> None:
    _marks.setdefault("upstream_out", _clock())


def _upstream_in() -> None:
    _marks.setdefault("upstream_in", _clock())


def _client_out() -> None:
    marks = _marks
    if "upstream_in" in marks and "upstream_out" in marks and "in" in marks:
        _inbound.append(marks["upstream_out"] - marks["in"])
        _outbound.append(_clock() - marks["upstream_in"])
    marks.clear()


def _gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _collecting[0] = _clock()
    else:
        _collections.append((info["generation"], _clock() - _collecting[0]))


def _dump() -> None:
    path = os.environ.get("RUNESTONE_PATH_PROBE_OUT")
    if path:
        report = {"inbound": _inbound, "outbound": _outbound, "collections": _collections}
        with open(path, "wb") as out:
            out.write(orjson.dumps(report))


def main() -> int:
    _wrap(http1.Protocol, "data_received", _request_in)
    _wrap(h1._Connection, "send", _upstream_out)
    _wrap(h1._Connection, "data_received", _upstream_in)
    _wrap(http1.Protocol, "write", _client_out)
    gc.callbacks.append(_gc)
    atexit.register(_dump)
    from runestone_cli.main import main as runestone

    sys.argv[0] = "runestone"
    return runestone()


if __name__ == "__main__":
    sys.exit(main())
