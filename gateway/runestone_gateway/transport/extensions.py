"""The ASGI extension the API port's server protocol (`http1`) offers its app, by name: the app
looks for it in `scope["extensions"]` and does without under any other server. Kept apart from
the protocol so that an app can know the name without importing a server."""

from __future__ import annotations

DISCONNECT_HOOK = "runestone.on_disconnect"
"""scope["extensions"][DISCONNECT_HOOK](callback) calls `callback()` once if the client goes away
before the answer is complete, and returns a function that takes the callback back."""
