"""The FastAPI app that serves `/v1/files*` and `/v1/vector_stores*`, and what it keeps per
process: the Weaviate client of the current settings and the ingestions running.

The gateway's ASGI app hands these paths here after it has authenticated the key and admitted
the request under the key's limits, with the request's access-log record (`Exchange`): the
answer's status and the record's headers (request id, rate limits) are noted on the way out,
and every error, FastAPI's own included, is answered in OpenAI's envelope."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import fastapi
from fastapi import exceptions as fastapi_exceptions
from starlette import exceptions as starlette_exceptions

from runestone_gateway import config, errors
from runestone_gateway.admission import auth
from runestone_gateway.retrieval import (
    ingest,
    quotas,
    records,
    serving,
    stores,
    sweeper,
    weaviate,
)
from runestone_gateway.telemetry import accesslog

log = logging.getLogger("runestone.gateway.retrieval")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
_Records = records.Records  # inside Retrieval, `records` is the method

CONTEXT = "runestone.retrieval"
MULTIPART_OVERHEAD = 1024 * 1024
"""What an upload's body may hold besides the file: the form's other fields and boundaries."""


@dataclass(frozen=True)
class Context:
    """One request's: who asked, its access-log record, and the process's retrieval state."""

    who: auth.Principal
    exchange: accesslog.Exchange
    retrieval: Retrieval

    @property
    def owner(self) -> str:
        return self.who.scope


class Retrieval:
    def __init__(self, gateway: serving.Gateway) -> None:
        self.gateway = gateway
        self._records: records.Records | None = None
        self._identity: tuple[object, ...] | None = None
        self._clients: list[weaviate.Client] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._sweeping: asyncio.Task[None] | None = None
        self._local_uploads = quotas.LocalLedger()
        self._embedding_slots: tuple[int, asyncio.Semaphore] | None = None
        self.recent_stores = stores.Recent()
        from runestone_gateway.retrieval import endpoints  # it imports this module

        self.app = endpoints.app()

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        who: auth.Principal,
        exchange: accesslog.Exchange,
    ) -> None:
        current = self.gateway.runtime
        settings = current.config.vector_stores
        if settings is None:
            raise serving.not_configured()
        self.sweep_in_background()
        limit = current.config.server.max_body_bytes
        if scope["path"] == "/v1/files" and scope["method"] == "POST":
            limit = settings.max_file_bytes + MULTIPART_OVERHEAD
        # OpenTelemetry names no operation for these; the metrics and the access log say which.
        exchange.operation = "files" if scope["path"].startswith("/v1/files") else "vector_stores"
        scope[CONTEXT] = Context(who, exchange, self)
        await self.app(scope, _bounded(receive, limit), _noting(send, exchange))

    async def records(self) -> records.Records:
        """The collections of the current settings (a new client when they changed)."""
        current = self.gateway.runtime
        settings = current.config.vector_stores
        if settings is None:
            raise serving.not_configured()
        key, ca = current.vector_store_secrets
        identity = (settings.url, key, ca, settings.replication_factor)
        if self._records is None or identity != self._identity:
            # The previous client stays open for ingestions still using it; all close at exit.
            client = weaviate.Client(settings.url, key, ca)
            self._clients.append(client)
            self._records = records.Records(client, settings.replication_factor)
            self._identity = identity
        await self._records.ready()
        return self._records

    def uploads(self) -> quotas.Ledger:
        """Where uploads in flight are held against storage quotas: the shared store when the
        gateway has one (every replica sees them), else this process."""
        client = getattr(self.gateway.runtime.responses, "client", None)
        return quotas.SharedLedger(client) if client is not None else self._local_uploads

    def start(self, key: str, work: Awaitable[None]) -> None:
        """Run an ingestion in the background; one at a time per store and file."""
        self.cancel(key)
        task = asyncio.ensure_future(work)
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))

    def _finished(self, key: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]

    def cancel(self, key: str) -> None:
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        if self._sweeping is not None:
            tasks.append(self._sweeping)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in self._clients:
            await client.close()

    def ingest(self, store: _Records, job: ingest.Job, who: auth.Principal) -> None:
        path = f"/v1/vector_stores/{job.store_id}/files"
        settings = self.gateway.runtime.config.vector_stores
        beat = settings.heartbeat_seconds if settings else config.DEFAULT_HEARTBEAT_SECONDS

        async def embed(texts: Any) -> list[list[float]]:
            async with self._slots(settings):
                return await serving.embed(self.gateway, who, texts, path)

        key = stores.store_file_key(job.store_id, job.file["fileId"])
        self.start(key, ingest.run(store, job, embed, beat))

    def _slots(self, settings: config.VectorStores | None) -> asyncio.Semaphore:
        """The ingestions' embedding slots (`ingestConcurrency`; new ones when it changed)."""
        wanted = settings.ingest_concurrency if settings else config.DEFAULT_INGEST_CONCURRENCY
        if self._embedding_slots is None or self._embedding_slots[0] != wanted:
            self._embedding_slots = (wanted, asyncio.Semaphore(wanted))
        return self._embedding_slots[1]

    # -- in the background: expired stores and abandoned ingestions

    def sweep_in_background(self) -> None:
        """Start this process's sweeper, once (it runs while the process serves)."""
        if self._sweeping is None:
            self._sweeping = asyncio.ensure_future(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            settings = self.gateway.runtime.config.vector_stores
            interval = settings.sweep_seconds if settings else config.DEFAULT_SWEEP_SECONDS
            # Processes started together spread their sweeps apart.
            await asyncio.sleep(interval * (0.5 + self.gateway.rng.random()))
            if settings is None:
                continue
            try:
                await self.sweep()
            except weaviate.Unavailable as error:
                log.warning("sweep skipped: %s", error)
            except Exception:
                log.exception("sweep failed")

    async def sweep(self) -> None:
        settings = self.gateway.runtime.config.vector_stores
        if settings is None:
            return
        store = await self.records()
        gone = await sweeper.expired_stores(store)
        if gone:
            log.info("deleted %d chunks of expired vector stores", gone)
        for file in await sweeper.abandoned(store, settings.heartbeat_seconds):
            key = stores.store_file_key(file["storeId"], file["fileId"])
            if key not in self._tasks:
                await self._take_over(store, file, settings)

    async def _take_over(
        self, store: _Records, file: dict[str, Any], settings: config.VectorStores
    ) -> None:
        """Finish an ingestion whose process died, charged to the key that attached it."""
        key = stores.store_file_key(file["storeId"], file["fileId"])
        log.info("taking over the ingestion of %s (its heartbeat stopped)", key)
        owner = file["owner"]
        who = next(
            (p for p in self.gateway.runtime.keys.principals if p.scope == owner and
             not p.disabled and (p.expires_at is None or p.expires_at > time.time())),
            None,
        )  # fmt: skip
        uploaded = await store.get(records.FILES, file["fileId"], owner)
        if who is None or uploaded is None:
            gone = "file was deleted" if uploaded is None else "key that attached it is gone"
            error = records.dumps({"code": "server_error", "message": f"The {gone}."})
            await store.merge(records.STORE_FILES, key, {"status": "failed", "lastError": error})
            return
        chunked = records.loads(file.get("chunking")) or {}
        static = chunked.get("static")
        strategy = config.Chunking.model_validate(static) if static else settings.chunking
        attributes = records.loads(file.get("attributes")) or {}
        self.ingest(store, ingest.Job(file["storeId"], uploaded, attributes, strategy), who)


def _bounded(receive: Receive, limit: int) -> Receive:
    """The body, refused with 413 once it passes `limit` bytes."""
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise errors.body_too_large(limit)
        return message

    return bounded


def _noting(send: Send, exchange: accesslog.Exchange) -> Send:
    async def noting(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = exchange.answering(message["status"])
            message["headers"] = [*message.get("headers", []), *headers]
        await send(message)

    return noting


async def context(request: fastapi.Request) -> Context:
    """The request's context (a coroutine: FastAPI runs a plain function dependency on a worker
    thread, a hop and a wake-up for every request)."""
    found: Context = request.scope[CONTEXT]
    return found


def unreachable(error: Exception) -> errors.GatewayError:
    """Weaviate could not be reached: a 503 to retry (the cause is logged, not answered). A
    mismatch of vector sizes is no passing failure: a 500 that says what to change."""
    if isinstance(error, weaviate.DimensionsMismatch):
        log.warning("vector store: %s", error)
        return errors.GatewayError(
            500, error.explained(), type=errors.SERVER, code="embedding_dimensions_mismatch"
        )
    log.warning("vector store unavailable: %s", error)
    return errors.GatewayError(
        503,
        "The vector store cannot be reached; try again.",
        type=errors.SERVER,
        code="vector_store_unavailable",
        headers=((b"retry-after", b"1"),),
    )


def install_error_handlers(app: fastapi.FastAPI) -> None:
    async def gateway_error(request: fastapi.Request, error: Exception) -> fastapi.Response:
        assert isinstance(error, errors.GatewayError)
        found = request.scope.get(CONTEXT)
        if found is not None:
            found.exchange.error_type = error.code or error.type
        return fastapi.Response(
            error.body(),
            status_code=error.status,
            headers={k.decode(): v.decode() for k, v in error.headers},
            media_type="application/json",
        )

    async def invalid(request: fastapi.Request, error: Exception) -> fastapi.Response:
        assert isinstance(error, fastapi_exceptions.RequestValidationError)
        first = error.errors()[0] if error.errors() else {}
        where = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
        param = ".".join(where) or None
        message = str(first.get("msg", "Invalid request."))
        text = f"Invalid '{param}': {message}." if param else f"{message}."
        return await gateway_error(request, errors.malformed(text, param=param))

    async def http_error(request: fastapi.Request, error: Exception) -> fastapi.Response:
        assert isinstance(error, starlette_exceptions.HTTPException)
        cause = error.__cause__
        if isinstance(cause, errors.GatewayError):  # raised while FastAPI read the body
            return await gateway_error(request, cause)
        method, path = request.method, request.url.path
        if error.status_code == 404:
            refusal = errors.route_not_found(method, path)
        elif error.status_code == 405:
            refusal = errors.method_not_allowed(method, path)
        else:
            refusal = errors.GatewayError(
                error.status_code, str(error.detail), type=errors.INVALID_REQUEST
            )
        return await gateway_error(request, refusal)

    async def unavailable(request: fastapi.Request, error: Exception) -> fastapi.Response:
        return await gateway_error(request, unreachable(error))

    app.add_exception_handler(errors.GatewayError, gateway_error)
    app.add_exception_handler(fastapi_exceptions.RequestValidationError, invalid)
    app.add_exception_handler(starlette_exceptions.HTTPException, http_error)
    app.add_exception_handler(weaviate.Unavailable, unavailable)
