"""uvicorn's HTTP/1.1 protocols as `runestone gateway --http` serves them: unchanged, except that
the 400 they write themselves for a request they cannot parse (before any app sees it) is in the
API's error envelope, like every other answer on the data port."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http import h11_impl, httptools_impl

from runestone_gateway.transport import refusals


class _EnvelopeRefusal:
    transport: asyncio.Transport
    server_state: Any

    def send_400_response(self, msg: str) -> None:
        self.transport.write(
            refusals.answer(400, refusals.NOT_HTTP, self.server_state.default_headers)
        )
        self.transport.close()


class HttpToolsProtocol(_EnvelopeRefusal, httptools_impl.HttpToolsProtocol):
    pass


class H11Protocol(_EnvelopeRefusal, h11_impl.H11Protocol):
    pass
