"""The OpenAI-compatible API as a pure ASGI app, serving from the process's state (`Gateway`).

Request path: key check, bounded body, the endpoint's checks of its JSON, the key's model
allow-list, route lookup in the current runtime, the endpoint's plan (for the endpoints with an
API of their own), the key's limits, failover across tiers, then the answer whole or as a
relayed stream; finally the limits are settled with what the request really used, and one
access-log line and the request metrics are written. A body that does not come whole with its
head is read only once the key's limits have admitted it (`intake`). What an endpoint is, is its
row in `endpoints`. Nothing is done at import, and nothing per request that could be done once
per config generation."""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Protocol

from runestone_gateway import config, errors
from runestone_gateway.admission import auth, budget, limits
from runestone_gateway.api import (
    asgi,
    endpoints,
    intake,
    plans,
    searches,
    stored,
    streaming,
    validate,
)
from runestone_gateway.failover import dispatch, routing
from runestone_gateway.providers import base
from runestone_gateway.retrieval import serving

if TYPE_CHECKING:
    from runestone_gateway.retrieval import app as retrieval_app
from runestone_gateway.state import responses
from runestone_gateway.telemetry import accesslog, redact

log = logging.getLogger("runestone.gateway")

_GatewayConfig = config.GatewayConfig  # inside Generation, `config` is the property


class Generation(Protocol):
    """One config generation's serving state, as requests read it (`process.runtime.Runtime`
    is one). Typed here so that the API never imports the process that builds and swaps it."""

    @property
    def config(self) -> _GatewayConfig: ...

    @property
    def keys(self) -> auth.KeyRing: ...

    @property
    def routes(self) -> Mapping[tuple[str, str], routing.Route]:
        """Where requests go, by (kind, model)."""

    @property
    def model_bodies(self) -> Mapping[str, bytes]: ...

    @property
    def limiter(self) -> limits.Limiter: ...

    @property
    def responses(self) -> responses.Store | None:
        """Stored responses, in the shared store; None without one."""

    @property
    def vector_store_secrets(self) -> tuple[str | None, str | None]:
        """The Weaviate API key and CA bundle of `vectorStores`, for files and vector stores."""

    def models_body_for(self, who: auth.Principal) -> bytes: ...

    def enter(self) -> None: ...

    def leave(self) -> None: ...


class Gateway(serving.Gateway, Protocol):
    """What the app serves from: the process's state (`process.service.Gateway` is one); its
    ledger and random source are the ones files and vector stores use too."""

    @property
    def runtime(self) -> Generation: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class GatewayApp:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.intake = intake.Intake(gateway.ledger.metrics)
        self._retrieval_state: retrieval_app.Retrieval | None = None

    @property
    def retrieval(self) -> retrieval_app.Retrieval:
        """Files and vector stores, made on first use: their FastAPI app (and what it imports,
        tens of megabytes) is loaded only by a process that serves them."""
        if self._retrieval_state is None:
            from runestone_gateway.retrieval import app as retrieval_app

            self._retrieval_state = retrieval_app.Retrieval(self.gateway)
        return self._retrieval_state

    async def __call__(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: asgi.Receive, send: asgi.Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.gateway.start()
                except Exception as error:
                    log.error("cannot start: %s", error)
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                if self.gateway.runtime.config.vector_stores is not None:
                    # Expired stores and abandoned ingestions are swept by every process.
                    self.retrieval.sweep_in_background()
                # What start-up built (modules, config, metrics, clients) lives as long as
                # the process: kept out of the collector's full passes, which would otherwise
                # walk all of it, a pause of tens of milliseconds, every few thousand requests.
                gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._retrieval_state is not None:
                    await self._retrieval_state.close()
                await self.gateway.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        exchange = accesslog.Exchange(
            method, path, accesslog.request_id(asgi.header(scope, b"x-request-id"))
        )

        try:
            endpoint = endpoints.GENERATION.get(path)
            if endpoint is not None:
                if method != "POST":
                    raise errors.method_not_allowed(method, path)
                await self._generate(endpoint, scope, receive, send, exchange)
            elif path == endpoints.MODELS_PATH or path.startswith(endpoints.MODELS_PATH + "/"):
                if method != "GET":
                    raise errors.method_not_allowed(method, path)
                await self._models(path, scope, send, exchange)
            elif path.startswith(endpoints.STORED_RESPONSES):
                current = self.gateway.runtime
                who = _authenticate(current, scope, exchange)
                await stored.serve(current, who, method, scope, send, exchange)
            elif serving.serves(path):
                await self._retrieval(scope, receive, send, exchange)
            else:
                raise errors.route_not_found(method, path)
        except errors.GatewayError as error:
            exchange.error_type = error.code or error.type
            await asgi.send_error(
                send, error, exchange.answering(error.status), endpoints.error_body(path)
            )
        except asgi.ClientGone:
            exchange.error_type = "client_disconnected"
        except Exception:
            log.exception("unexpected error handling %s %s", method, redact.text(path))
            exchange.error_type = "internal"
            # If the response had already started this fails, and the server closes the
            # connection.
            with contextlib.suppress(RuntimeError):
                await asgi.send_error(send, errors.internal(), exchange.answering(500))
        finally:
            self.gateway.ledger.add(exchange)

    async def _retrieval(
        self,
        scope: asgi.Scope,
        receive: asgi.Receive,
        send: asgi.Send,
        exchange: accesslog.Exchange,
    ) -> None:
        """Files and vector stores, served by their FastAPI app under the key's limits."""
        current = self.gateway.runtime
        current.enter()
        ticket: limits.Ticket | None = None
        try:
            who = _authenticate(current, scope, exchange)
            if who.limited:
                ticket = await current.limiter.admit(who, 0)
                exchange.headers.extend(ticket.headers)
            # Uploads stream into storage as they arrive, under the same body deadline.
            watched = self.intake.watched(receive, current.config.server)
            await self.retrieval(scope, watched, send, who, exchange)
        finally:
            if ticket is not None:
                await ticket.settle(0, 0)
            current.leave()

    async def _models(
        self, path: str, scope: asgi.Scope, send: asgi.Send, exchange: accesslog.Exchange
    ) -> None:
        current = self.gateway.runtime
        who = _authenticate(current, scope, exchange)
        if path == endpoints.MODELS_PATH:
            await asgi.send_json(send, 200, current.models_body_for(who), exchange.answering(200))
            return
        model = path[len(endpoints.MODELS_PATH) + 1 :]
        body = current.model_bodies.get(model)
        if body is None:
            raise errors.model_not_found(model)
        auth.check_model(who, model)
        exchange.model = model
        await asgi.send_json(send, 200, body, exchange.answering(200))

    async def _generate(
        self,
        endpoint: endpoints.Endpoint,
        scope: asgi.Scope,
        receive: asgi.Receive,
        send: asgi.Send,
        exchange: accesslog.Exchange,
    ) -> None:
        current = self.gateway.runtime
        current.enter()
        exchange.operation = endpoint.operation
        ticket: limits.Ticket | None = None
        try:
            who = _authenticate(current, scope, exchange)
            raw = await self.intake.read(scope, receive, current.config.server)
            if isinstance(raw, intake.Arriving):
                if who.limited:
                    ticket = await _admit_before_body(current, who, exchange)
                raw = await raw.rest()
            request = endpoint.check(raw)
            exchange.stream = request.stream
            auth.check_model(who, request.model)
            route = current.routes.get((endpoint.kind, request.model))
            if route is None:
                raise _unknown_model(current, request, endpoint)
            exchange.model = request.model
            if current.config.server.log_prompts:
                exchange.prompt = raw.decode("utf-8", "replace")
            plan = None
            if endpoint.plan is not None:
                scope[searches.RETRIEVAL] = self  # for file_search, which searches the stores
                plan = await endpoint.plan(request, route, who, current, scope)
                estimate = plan.estimate
            else:
                assert endpoint.estimate is not None
                estimate = endpoint.estimate(request)
            if who.limited:
                if ticket is None:
                    ticket = await current.limiter.admit(who, estimate)
                    exchange.headers.extend(ticket.headers)
                else:
                    exchange.headers.extend(await ticket.take_tokens(estimate))
            if plan is not None:
                await plans.serve(
                    plan, request.stream, route, self.gateway.rng, scope, receive, send, exchange
                )
            elif request.stream:
                await self._stream(request, route, scope, receive, send, exchange)
            else:
                await self._answer(request, route, scope, receive, send, exchange)
        finally:
            if ticket is not None:
                await _settle(ticket, exchange)
            current.leave()

    async def _answer(
        self,
        request: validate.Request,
        route: routing.Route,
        scope: asgi.Scope,
        receive: asgi.Receive,
        send: asgi.Send,
        exchange: accesslog.Exchange,
    ) -> None:
        gateway = self.gateway

        def attempt(target: routing.Target) -> Awaitable[base.Answer]:
            call = base.Call(request.kind, request.body, target.upstream_model)
            return target.provider.answer(call)

        with asgi.CancelOnDisconnect(scope, receive):
            success = await dispatch.first_success(
                route, attempt, rng=gateway.rng, attempts=exchange.attempts
            )
            exchange.target = success.target
            await asgi.send_json(send, 200, success.result.body, exchange.answering(200))
            exchange.upstream_seconds = success.upstream_seconds
            plans.answered(exchange, success.target, success.result.usage, "")

    async def _stream(
        self,
        request: validate.Request,
        route: routing.Route,
        scope: asgi.Scope,
        receive: asgi.Receive,
        send: asgi.Send,
        exchange: accesslog.Exchange,
    ) -> None:
        gateway = self.gateway
        relay = streaming.Relay(send)
        success: dispatch.Success[streaming.Opened] | None = None

        def attempt(target: routing.Target) -> Awaitable[streaming.Opened]:
            call = base.Call(
                request.kind, request.body, target.upstream_model, request.include_usage
            )
            return streaming.open_stream(target, call)

        with asgi.CancelOnDisconnect(scope, receive) as watch:
            success = await dispatch.first_success(
                route, attempt, rng=gateway.rng, attempts=exchange.attempts
            )
            exchange.target = success.target
            exchange.ttft = time.perf_counter() - exchange.started
            exchange.upstream_seconds = success.upstream_seconds
            await relay.run(success, exchange.answering(200))
        if success is not None:
            failure = relay.failure or ("client_disconnected" if watch.gone else "")
            usage = relay.usage(success.result[0], request)
            exchange.tokens_estimated = relay.estimated
            plans.answered(exchange, success.target, usage, failure)


def _authenticate(
    current: Generation, scope: asgi.Scope, exchange: accesslog.Exchange
) -> auth.Principal:
    who = current.keys.authenticate(
        asgi.header(scope, b"authorization"), asgi.header(scope, b"x-api-key")
    )
    exchange.key_id = who.id
    exchange.tenant = who.tenant
    return who


async def _admit_before_body(
    current: Generation, who: auth.Principal, exchange: accesslog.Exchange
) -> limits.Ticket:
    """The key's request rate, concurrency slot and budget, taken before a body that is still
    arriving is buffered. A refusal closes the connection: the body is never read."""
    try:
        ticket = await current.limiter.admit_before_body(who)
    except errors.GatewayError as refusal:
        refusal.headers = (*refusal.headers, errors.CLOSE)
        raise
    exchange.headers.extend(ticket.headers)
    return ticket


async def _settle(ticket: limits.Ticket, exchange: accesslog.Exchange) -> None:
    """Tokens: the real count; none when no upstream answered; the estimate when unknown."""
    usage, target = exchange.usage, exchange.target
    cost = 0
    if usage is not None and target is not None:
        used: int | None = usage.input_tokens + usage.output_tokens
        cost = budget.usage_cost_nanos(target.model.price, usage)
    else:
        used = 0 if target is None else None
    await ticket.settle(used, cost)


def _unknown_model(
    current: Generation, request: validate.Request, endpoint: endpoints.Endpoint
) -> errors.GatewayError:
    if request.model in current.model_bodies:
        return errors.GatewayError(
            400,
            f"The model {request.model!r} does not serve {endpoint.path}.",
            type=errors.INVALID_REQUEST,
            code="model_not_supported",
            param="model",
        )
    return errors.model_not_found(request.model)
