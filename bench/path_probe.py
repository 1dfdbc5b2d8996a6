"""Runs `runestone gateway …` with clocks at the edges of the gateway's own work on a request;
started by bench/gateway_path.py, not by hand.

    python bench/path_probe.py gateway --config … (the `runestone` command's arguments)

It wraps four methods of the gateway's two HTTP protocols (the API port's server and the
upstream client) to take a timestamp when a request's bytes arrive, when the request leaves for
the upstream, when the upstream's answer arrives and when the answer (for a stream: its first
event) is written to the client. Between those marks the gateway runs its own code only, so
their differences are its work per request, without the wake-ups of the processes around it.
It also times the garbage collector's passes from the first request on (start-up's, before
the gateway freezes what it built, are not the requests'), and what follows the answer's last
write: until the app is done with the request (`after`: work that holds up the next request on
the connection if it outlasts the client's turnaround) and until the next request arrives
(`turnaround`). At exit the durations (microseconds) are written as JSON to
$RUNESTONE_PATH_PROBE_OUT. Meant for one request at a time: with several in flight
the marks of different requests would mix.

With RUNESTONE_PATH_PROBE_POINTS=1 it also marks the steps in between (the functions in POINTS,
at their call and, for some, their return) and keeps, per pair of successive marks, how long
the gateway took from one to the next. Each mark costs a wrapper call, so the `in` and `out`
figures of such a run are a little larger; functions (and classes) a checkout does not
have are skipped."""

from __future__ import annotations

import atexit
import collections
import functools
import gc
import inspect
import itertools
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

try:  # the gateway in layers
    from runestone_gateway.admission import auth, limits
    from runestone_gateway.api import app, asgi, streaming, validate
    from runestone_gateway.failover import dispatch
    from runestone_gateway.providers import http, openai
    from runestone_gateway.transport import h1, http1
except ImportError:  # a --before checkout from before the layers
    from runestone_gateway import app, asgi, auth, dispatch, http1, limits, streaming, validate  # type: ignore[attr-defined,no-redef]
    from runestone_gateway.providers import h1, http, openai  # type: ignore[attr-defined,no-redef]

try:  # request bodies read within bounds
    from runestone_gateway.api import intake
except ImportError:  # a --before checkout that reads them in asgi.read_body
    intake = None  # type: ignore[assignment]

_clock = time.perf_counter_ns
_marks: dict[str, int] = {}
_inbound: list[int] = []  # request bytes in -> request out to the upstream
_outbound: list[int] = []  # upstream answer in -> answer out to the client
_after: list[int] = []  # the answer's last write -> the app done with the request
_turnaround: list[int] = []  # the answer's last write -> the next request's bytes in
_last_write = [0]
_collections: list[tuple[int, int]] = []  # (generation, duration)
_collecting = [0]
_serving = [False]  # a request has arrived: collections from here on are counted
_steps: list[tuple[str, int]] = []  # (mark, time) of the request in hand, with POINTS on
_segments: dict[str, list[int]] = collections.defaultdict(list)  # "a -> b": durations

POINTS: list[tuple[Any, str, bool]] = [
    # (owner, function, also mark its return), in the order a request meets them
    (http1.Protocol, "on_headers_complete", False),
    (http1.Protocol, "_start", True),
    (app.GatewayApp, "_http", False),
    (auth.KeyRing, "authenticate", True),
    (asgi, "read_body", True),
    (getattr(intake, "Intake", None), "read", True),
    (validate, "parse", True),
    (limits.Limiter, "admit", True),
    (asgi, "unless_disconnected", False),
    (getattr(asgi, "CancelOnDisconnect", None), "__enter__", False),
    (dispatch, "first_success", True),
    (streaming, "open_stream", True),
    (openai.OpenAIProvider, "answer", True),
    (openai.OpenAIProvider, "stream", True),
    (http.Upstream, "post", True),
    (http.Upstream, "open_stream", True),
    (h1.Pool, "request", True),
    (h1._Connection, "on_headers_complete", False),
    (h1.Response, "finish", False),
    (http, "json_object", True),
    (asgi, "send_json", False),
    (streaming.Relay, "run", False),
    (http1.Exchange, "send", False),
    (http1.Exchange, "_head", True),
]


Hook = Callable[[], None] | None


def _wrap(owner: Any, name: str, before: Hook = None, after: Hook = None) -> None:
    """Call `before` as `owner.name` is called and `after` as it returns (a coroutine function:
    as its coroutine ends); an owner or function this checkout does not have is skipped."""
    original = getattr(owner, name, None) if owner is not None else None
    if original is None:
        return
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if before is not None:
                before()
            try:
                return await original(*args, **kwargs)
            finally:
                if after is not None:
                    after()

    else:

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if before is not None:
                before()
            try:
                return original(*args, **kwargs)
            finally:
                if after is not None:
                    after()

    setattr(owner, name, wrapper)


def _step(label: str) -> None:
    _steps.append((label, _clock()))


def _mark_calls(owner: Any, name: str, returns: bool) -> None:
    if owner is None:
        return
    label = f"{owner.__name__.rpartition('.')[2]}.{name}"
    end = functools.partial(_step, f"{label} done") if returns else None
    _wrap(owner, name, functools.partial(_step, label), end)


def _request_in() -> None:
    _serving[0] = True
    _marks.clear()
    _marks["in"] = now = _clock()
    if _last_write[0]:
        _turnaround.append(now - _last_write[0])
        _last_write[0] = 0
    _steps.clear()
    _step("request in")


def _upstream_out() -> None:
    _marks.setdefault("upstream_out", _clock())
    _step("request out")


def _upstream_in() -> None:
    _marks.setdefault("upstream_in", _clock())
    _step("answer in")


def _client_out() -> None:
    marks = _marks
    if "upstream_in" in marks and "upstream_out" in marks and "in" in marks:
        _inbound.append(marks["upstream_out"] - marks["in"])
        _outbound.append(_clock() - marks["upstream_in"])
        _step("answer out")
        for (before, then), (after, now) in itertools.pairwise(_steps):
            _segments[f"{before} -> {after}"].append(now - then)
    marks.clear()
    _steps.clear()


def _written() -> None:
    _last_write[0] = _clock()


def _app_done() -> None:
    if _last_write[0]:
        _after.append(_clock() - _last_write[0])


def _gc(phase: str, info: dict[str, int]) -> None:
    if not _serving[0]:
        return  # start-up's passes (before gc.freeze) are not the requests'
    if phase == "start":
        _collecting[0] = _clock()
    else:
        _collections.append((info["generation"], _clock() - _collecting[0]))


def _dump() -> None:
    path = os.environ.get("RUNESTONE_PATH_PROBE_OUT")
    if path:
        report = {
            "inbound": _inbound,
            "outbound": _outbound,
            "after": _after,
            "turnaround": _turnaround,
            "collections": _collections,
            "segments": dict(_segments),
        }
        with open(path, "wb") as out:
            out.write(orjson.dumps(report))


def main() -> int:
    _wrap(http1.Protocol, "data_received", before=_request_in)
    _wrap(h1._Connection, "send", before=_upstream_out)
    _wrap(h1._Connection, "data_received", before=_upstream_in)
    _wrap(http1.Protocol, "write", before=_client_out, after=_written)
    _wrap(http1.Exchange, "run", after=_app_done)
    if os.environ.get("RUNESTONE_PATH_PROBE_POINTS") == "1":
        for owner, name, returns in POINTS:
            _mark_calls(owner, name, returns)
    gc.callbacks.append(_gc)
    atexit.register(_dump)
    from runestone_cli.main import main as runestone

    sys.argv[0] = "runestone"
    return runestone()


if __name__ == "__main__":
    sys.exit(main())
