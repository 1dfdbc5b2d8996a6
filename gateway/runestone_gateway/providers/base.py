"""The provider interface and the values that cross it."""

from __future__ import annotations

import abc
import enum
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from runestone_gateway import config
from runestone_gateway.translate import usage as usage_


class FailureKind(enum.Enum):
    """Why an upstream attempt failed; all but REJECTED are worth trying elsewhere."""

    CONNECT = "connect"  # refused, reset, unresolvable: nothing answered
    TIMEOUT = "timeout"  # the provider's timeout elapsed
    RATE_LIMITED = "rate_limited"  # 429
    STATUS = "status"  # 5xx, or a status that says the provider is misconfigured (401, 403, 404)
    PROTOCOL = "protocol"  # an answer that is not what the wire format promises
    REJECTED = "rejected"  # the upstream refused this request itself (400, 422): the client's fault


class UpstreamError(Exception):
    """One failed attempt at one provider. `detail` is safe to log: no keys, no prompts."""

    def __init__(
        self,
        kind: FailureKind,
        detail: str,
        *,
        status: int | None = None,
        envelope: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status
        self.envelope = envelope  # for REJECTED: the error to hand to the client

    @property
    def retryable(self) -> bool:
        return self.kind is not FailureKind.REJECTED


Usage = usage_.Usage
"""What an answer used: every prompt token (cache reads and writes among them) and every output
token; one record for every API, which budgets charge and metrics count from."""

# The records below are made for every request, so they are plain slotted dataclasses: a frozen
# one sets each field through object.__setattr__, three times the cost of building it.


@dataclass(slots=True)
class Call:
    """One request for one provider: the client's parsed body and what to ask upstream."""

    kind: config.Kind
    body: dict[str, Any]
    upstream_model: str
    include_usage: bool = False  # the client asked for a final usage chunk in its stream
    api: config.UpstreamApi | None = None
    """Set when `body` is a request in the upstream's own API (`responses` to an OpenAI
    provider that speaks it, `messages` to Anthropic): it goes through as it is, `model`
    rewritten, and the answer comes back in that API. None: an OpenAI request of `kind`."""
    headers: bytes = b""
    """Header lines of the client's that the upstream's own API reads (Anthropic's version and
    beta flags), each ending in CRLF; only with `api`."""


@dataclass(slots=True)
class Answer:
    """A complete (non-streamed) answer: the JSON body in the call's API (OpenAI's shape of its
    kind, or the upstream's own API for a call with `api`)."""

    body: bytes
    usage: Usage | None


class UsageMeter:
    """Filled in by a stream as it runs; read once the stream has ended."""

    __slots__ = ("partial", "usage")

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.partial = False
        """The usage so far of a stream that reports it as it goes (Anthropic's input tokens
        come first, the output's only at the end)."""


class EventStream:
    """A streamed answer as server-sent events ready to send: OpenAI's (`data: ...\\n\\n`), or
    for a call with `api` the upstream's own API's named events."""

    __slots__ = ("_events", "_meter")

    def __init__(self, events: AsyncGenerator[bytes, None], meter: UsageMeter) -> None:
        self._events = events
        self._meter = meter

    @property
    def usage(self) -> Usage | None:
        return self._meter.usage

    @property
    def usage_partial(self) -> bool:
        """Whether `usage` is only what the upstream reported before the stream ended."""
        return self._meter.partial

    async def next(self) -> bytes | None:
        """The next whole event (or several, when they arrived together), or None once the
        answer is complete. Raises UpstreamError."""
        try:
            return await anext(self._events)
        except StopAsyncIteration:
            return None

    async def aclose(self) -> None:
        """Stop early: closes the upstream connection, which cancels the upstream request."""
        await self._events.aclose()


class Provider(abc.ABC):
    """One upstream. Construct inside the running event loop; `close` when the config that made
    it is retired."""

    def __init__(self, spec: config.Provider) -> None:
        self.spec = spec
        self.name = spec.name

    @abc.abstractmethod
    async def answer(self, call: Call) -> Answer:
        """A complete answer, or UpstreamError."""

    @abc.abstractmethod
    async def stream(self, call: Call) -> EventStream:
        """A stream the upstream has accepted, or UpstreamError. Events may still fail."""

    async def count_tokens(self, call: Call) -> Answer:
        """The upstream's own count of a request's prompt tokens, for a call with `api` whose
        API has a count (Anthropic's `count_tokens`). Providers without one raise
        NotImplementedError, and the caller estimates instead."""
        raise NotImplementedError

    @abc.abstractmethod
    async def probe(self) -> bool:
        """Whether the upstream is reachable and healthy, for active health checks (the caller
        bounds the time)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release pooled connections."""
