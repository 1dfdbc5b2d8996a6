"""What the retrieval endpoints serve from, typed as protocols that the process fulfils (as the
API's are), and embedding through the gateway's own route: the same failover, limits, budget,
metrics and access log as `/v1/embeddings`, charged to the key that asked."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Mapping, Sequence
from typing import Protocol

import orjson

from runestone_gateway import config, errors
from runestone_gateway.admission import auth, budget, limits
from runestone_gateway.failover import dispatch, routing
from runestone_gateway.providers import base
from runestone_gateway.retrieval import chunking
from runestone_gateway.telemetry import accesslog, accounting

PREFIXES = ("/v1/files", "/v1/vector_stores")
"""The paths files and vector stores are served under (by their FastAPI app)."""


def serves(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PREFIXES)


_GatewayConfig = config.GatewayConfig


class Generation(Protocol):
    @property
    def config(self) -> _GatewayConfig: ...

    @property
    def routes(self) -> Mapping[tuple[str, str], routing.Route]: ...

    @property
    def limiter(self) -> limits.Limiter: ...

    @property
    def keys(self) -> auth.KeyRing: ...

    @property
    def responses(self) -> object | None:
        """The shared store's stored responses (None without a shared store); its `client`
        holds uploads against storage quotas across replicas."""

    @property
    def vector_store_secrets(self) -> tuple[str | None, str | None]:
        """The Weaviate API key and CA bundle the config's files hold."""


class Gateway(Protocol):
    @property
    def runtime(self) -> Generation: ...

    @property
    def ledger(self) -> accounting.Ledger: ...

    @property
    def rng(self) -> random.Random: ...


EMBED_BATCH = 64
"""Inputs per embedding call."""


async def embed(
    gateway: Gateway, who: auth.Principal, texts: Sequence[str], path: str
) -> list[list[float]]:
    """One vector per text, asked in batches of the configured embedding model; each batch is
    one request of the key's (limits, budget, metrics, an access-log line for `path`)."""
    vectors: list[list[float]] = []
    for start in range(0, len(texts), EMBED_BATCH):
        vectors += await _embed_batch(gateway, who, list(texts[start : start + EMBED_BATCH]), path)
    return vectors


async def _embed_batch(
    gateway: Gateway, who: auth.Principal, texts: list[str], path: str
) -> list[list[float]]:
    current = gateway.runtime
    settings = current.config.vector_stores
    if settings is None:
        raise not_configured()
    model = settings.embedding_model
    exchange = accesslog.Exchange("POST", path, accesslog.request_id(None))
    exchange.operation = "embeddings"
    exchange.key_id, exchange.tenant, exchange.model = who.id, who.tenant, model
    ticket: limits.Ticket | None = None
    try:
        auth.check_model(who, model)
        route = current.routes.get(("embedding", model))
        if route is None:
            raise errors.model_not_found(model)
        if who.limited:
            ticket = await current.limiter.admit(who, sum(chunking.count(t) for t in texts))
        body = {"model": model, "input": texts}

        def attempt(target: routing.Target) -> Awaitable[base.Answer]:
            return target.provider.answer(base.Call("embedding", body, target.upstream_model))

        success = await dispatch.first_success(
            route, attempt, rng=gateway.rng, attempts=exchange.attempts
        )
        exchange.target, exchange.usage = success.target, success.result.usage
        exchange.upstream_seconds = success.upstream_seconds
        exchange.answered = time.perf_counter()
        exchange.answering(200)
        return _vectors(success.result.body, len(texts))
    except errors.GatewayError as error:
        exchange.answering(error.status)
        exchange.error_type = error.code or error.type
        raise
    finally:
        if ticket is not None:
            usage, target = exchange.usage, exchange.target
            used = None if usage is None else usage.input_tokens + usage.output_tokens
            cost = 0 if usage is None or target is None else budget.usage_cost_nanos(
                target.model.price, usage
            )  # fmt: skip
            await ticket.settle(0 if target is None else used, cost)
        gateway.ledger.add(exchange)


def _vectors(body: bytes, expected: int) -> list[list[float]]:
    try:
        data = sorted(orjson.loads(body)["data"], key=lambda entry: entry["index"])
        vectors = [[float(x) for x in entry["embedding"]] for entry in data]
    except (ValueError, KeyError, TypeError):
        raise errors.GatewayError(
            502, "The embedding model's answer could not be read.", type=errors.UPSTREAM
        ) from None
    if len(vectors) != expected:
        raise errors.GatewayError(
            502, "The embedding model answered a different number of vectors.", type=errors.UPSTREAM
        )
    return vectors


def not_configured() -> errors.GatewayError:
    return errors.GatewayError(
        400,
        "This gateway serves no files or vector stores: give it a vector store "
        "(the vectorStores section of its config).",
        type=errors.INVALID_REQUEST,
        code="vector_stores_not_configured",
    )
