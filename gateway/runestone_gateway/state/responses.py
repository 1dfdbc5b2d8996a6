"""Stored responses: what `previous_response_id`, `GET /v1/responses/{id}` and its input items
read, kept in the shared store (the Redis of `limits.store`) for the Gateway's retention.

A record holds the response object, the request's own input items, the earlier items it
continued from (`history`) and the key id (with its tenant) that made it: only that key may
read, continue or delete it. A record carries its whole conversation, so continuing one is a
single read however long the chain, and a record outlives the earlier ones it continued.

Each item of a stored response (its input and output items, by their ids) is kept beside it for
as long, so a later request can name one instead of repeating it (`{"type": "item_reference",
"id": ...}`, as the Vercel AI SDK sends earlier assistant text)."""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis.asyncio
import redis.exceptions

KEY_PREFIX = "runestone:response:"
ITEM_PREFIX = "runestone:response-item:"


class Unavailable(Exception):
    """The shared store could not be reached; the message is safe to log."""


@dataclass(frozen=True)
class Stored:
    owner: str
    """The key's scope (tenant and key id) that made the response."""
    response: dict[str, Any]
    input: list[dict[str, Any]] = field(default_factory=list)
    """The request's own input items, as `input_items` lists them."""
    history: list[dict[str, Any]] = field(default_factory=list)
    """The items of the responses it continued (`previous_response_id`), oldest first."""

    @property
    def id(self) -> str:
        return str(self.response["id"])

    def conversation(self) -> list[dict[str, Any]]:
        """Every item a continuation of this response comes after: the earlier ones, this
        request's input, and this response's output."""
        output = self.response.get("output")
        return [*self.history, *self.input, *(output if isinstance(output, list) else [])]

    def items(self) -> list[dict[str, Any]]:
        """This response's items that have an id: its input and its output."""
        output = self.response.get("output")
        items = [*self.input, *(output if isinstance(output, list) else [])]
        return [item for item in items if isinstance(item, dict) and item.get("id")]

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "owner": self.owner,
                "response": self.response,
                "input": self.input,
                "history": self.history,
            }
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Stored | None:
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(record, dict) or not isinstance(record.get("response"), dict):
            return None
        return cls(
            owner=str(record.get("owner", "")),
            response=record["response"],
            input=list(record.get("input") or []),
            history=list(record.get("history") or []),
        )


class Store(abc.ABC):
    @abc.abstractmethod
    async def get(self, response_id: str) -> Stored | None:
        """The record, or None when there is none (never was, expired, deleted)."""

    @abc.abstractmethod
    async def put(self, stored: Stored, retention_seconds: float) -> None:
        """Keep the record, and each of its items by id, for the retention."""

    @abc.abstractmethod
    async def items(self, item_ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """The stored items among these ids, each with the owner of its response."""

    @abc.abstractmethod
    async def delete(self, stored: Stored) -> bool:
        """Forget the record and its items; whether there was a record to delete."""


_FAILURES = (redis.exceptions.RedisError, OSError, TimeoutError)


class RedisResponses(Store):
    """Records as one string each, expiring with the retention. The client is the limit
    store's (one connection pool per process), with its short timeouts: a Redis that does not
    answer fails the request at once rather than holding it."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self._client = client

    @property
    def client(self) -> redis.asyncio.Redis:
        """The shared store's client, for other state kept across replicas (uploads held
        against storage quotas)."""
        return self._client

    async def get(self, response_id: str) -> Stored | None:
        try:
            raw = await self._client.get(KEY_PREFIX + response_id)
        except _FAILURES as error:
            raise Unavailable(_describe(error)) from None
        if raw is None:
            return None
        return Stored.from_bytes(raw if isinstance(raw, bytes) else raw.encode())

    async def put(self, stored: Stored, retention_seconds: float) -> None:
        seconds = max(math.ceil(retention_seconds), 1)
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.set(KEY_PREFIX + stored.id, stored.to_bytes(), ex=seconds)
                for item in stored.items():
                    record = orjson.dumps({"owner": stored.owner, "item": item})
                    pipe.set(ITEM_PREFIX + str(item["id"]), record, ex=seconds)
                await pipe.execute()
        except _FAILURES as error:
            raise Unavailable(_describe(error)) from None

    async def items(self, item_ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        try:
            raws = await self._client.mget([ITEM_PREFIX + item_id for item_id in item_ids])
        except _FAILURES as error:
            raise Unavailable(_describe(error)) from None
        found = {}
        for item_id, raw in zip(item_ids, raws, strict=True):
            record = orjson.loads(raw) if raw is not None else None
            if isinstance(record, dict) and isinstance(record.get("item"), dict):
                found[item_id] = (str(record.get("owner", "")), record["item"])
        return found

    async def delete(self, stored: Stored) -> bool:
        keys = [KEY_PREFIX + stored.id, *(ITEM_PREFIX + str(item["id"]) for item in stored.items())]
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.delete(keys[0])
                if len(keys) > 1:
                    pipe.delete(*keys[1:])
                deleted = await pipe.execute()
        except _FAILURES as error:
            raise Unavailable(_describe(error)) from None
        return bool(deleted[0])


def _describe(error: BaseException) -> str:
    # redis-py messages name the host and port, never the password of the URL.
    detail = str(error).strip()
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__
