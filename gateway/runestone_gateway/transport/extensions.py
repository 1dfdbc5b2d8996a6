"""What the API port's server protocol (`http1`) offers its app beyond ASGI: extensions by name,
which the app looks for in `scope["extensions"]` and does without under any other server, and
the exception its `receive()` may raise. Kept apart from the protocol so that an app can know
them without importing a server."""

from __future__ import annotations

DISCONNECT_HOOK = "runestone.on_disconnect"
"""scope["extensions"][DISCONNECT_HOOK](callback) calls `callback()` once if the client goes away
before the answer is complete, and returns a function that takes the callback back."""

BODY_ARRIVED = "runestone.body_arrived"
"""scope["extensions"][BODY_ARRIVED]() is True when the whole request body has arrived: the
next `receive()` returns it without waiting."""


class BrokenBody(Exception):
    """Raised by `receive()` under the API port's own protocol when the request body's framing
    breaks (a chunk size that is not hex, a chunk longer than it said): the app answers 400, and
    the connection closes after that answer. uvicorn's protocols answer such requests
    themselves."""
