"""The OpenAI-compatible API as a pure ASGI app, built by `create_app(settings)`.

Request path: key check, bounded body, hand-validated JSON, route lookup in the current runtime,
failover across tiers, then the answer whole or as a relayed stream. Nothing is done at import,
and nothing per request that could be done once per config generation."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable

from runestone_gateway import (
    asgi,
    config,
    dispatch,
    errors,
    routing,
    runtime,
    service,
    streaming,
    validate,
)
from runestone_gateway.providers import base

log = logging.getLogger("runestone.gateway")

GENERATE_PATHS: dict[str, config.Kind] = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completion",
    "/v1/embeddings": "embedding",
}
MODELS_PATH = "/v1/models"


def create_app(settings: service.Settings) -> GatewayApp:
    return GatewayApp(service.Gateway(settings))


class GatewayApp:
    def __init__(self, gateway: service.Gateway) -> None:
        self.gateway = gateway

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
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.gateway.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        try:
            kind = GENERATE_PATHS.get(path)
            if kind is not None:
                if method != "POST":
                    raise errors.method_not_allowed(method, path)
                await self._generate(kind, scope, receive, send)
            elif path == MODELS_PATH or path.startswith(MODELS_PATH + "/"):
                if method != "GET":
                    raise errors.method_not_allowed(method, path)
                await self._models(path, scope, send)
            else:
                raise errors.route_not_found(method, path)
        except errors.GatewayError as error:
            await asgi.send_error(send, error)
        except asgi.ClientGone:
            return
        except Exception:
            log.exception("unexpected error handling %s %s", method, path)
            # If the response had already started this fails, and uvicorn closes the connection.
            with contextlib.suppress(RuntimeError):
                await asgi.send_error(send, errors.internal())

    async def _models(self, path: str, scope: asgi.Scope, send: asgi.Send) -> None:
        current = self.gateway.runtime
        if not current.keys.accepts(asgi.header(scope, b"authorization")):
            raise errors.unauthorized("Missing or invalid API key.")
        if path == MODELS_PATH:
            await asgi.send_json(send, 200, current.models_body)
            return
        model = path[len(MODELS_PATH) + 1 :]
        body = current.model_bodies.get(model)
        if body is None:
            raise errors.model_not_found(model)
        await asgi.send_json(send, 200, body)

    async def _generate(
        self, kind: config.Kind, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send
    ) -> None:
        started = time.perf_counter()
        current = self.gateway.runtime
        current.enter()
        operation = _OPERATIONS[kind]
        try:
            if not current.keys.accepts(asgi.header(scope, b"authorization")):
                raise errors.unauthorized("Missing or invalid API key.")
            raw = await asgi.read_body(scope, receive, current.config.server.max_body_bytes)
            request = validate.parse(kind, raw)
            route = current.routes.get((kind, request.model))
            if route is None:
                raise _unknown_model(current, request)
            if current.config.server.log_prompts:
                log.info("prompt for %s: %s", request.model, raw.decode("utf-8", "replace"))
            if request.stream:
                await self._stream(request, route, receive, send, started)
            else:
                await self._answer(request, route, receive, send, started)
        except errors.GatewayError as error:
            self.gateway.metrics.responses.labels(operation, str(error.status)).inc()
            raise
        finally:
            current.leave()

    async def _answer(
        self,
        request: validate.Request,
        route: routing.Route,
        receive: asgi.Receive,
        send: asgi.Send,
        started: float,
    ) -> None:
        gateway = self.gateway

        def attempt(target: routing.Target) -> Awaitable[base.Answer]:
            call = base.Call(request.kind, request.body, target.upstream_model)
            return target.provider.answer(call)

        async def work() -> dispatch.Success[base.Answer]:
            success: dispatch.Success[base.Answer] = await dispatch.first_success(
                route, attempt, rng=gateway.rng, metrics=gateway.metrics
            )
            await asgi.send_json(send, 200, success.result.body)
            return success

        completed, success = await asgi.unless_disconnected(receive, work())
        if completed and success is not None:
            self._record(request, success.target, started, success.result.usage, "")
            elapsed = time.perf_counter() - started
            gateway.metrics.overhead.labels(_OPERATIONS[request.kind]).observe(
                max(elapsed - success.upstream_seconds, 0.0)
            )

    async def _stream(
        self,
        request: validate.Request,
        route: routing.Route,
        receive: asgi.Receive,
        send: asgi.Send,
        started: float,
    ) -> None:
        gateway = self.gateway
        relay = streaming.Relay(send)
        opened: list[dispatch.Success[streaming.Opened]] = []

        def attempt(target: routing.Target) -> Awaitable[streaming.Opened]:
            call = base.Call(
                request.kind, request.body, target.upstream_model, request.include_usage
            )
            return streaming.open_stream(target, call)

        async def work() -> None:
            success = await dispatch.first_success(
                route, attempt, rng=gateway.rng, metrics=gateway.metrics
            )
            opened.append(success)
            target = success.target
            gateway.metrics.time_to_first_token.labels(
                _OPERATIONS[request.kind],
                target.provider.spec.type,
                target.model.name,
                target.provider_name,
            ).observe(time.perf_counter() - started)
            await relay.run(success)

        completed, _ = await asgi.unless_disconnected(receive, work())
        if opened:
            failure = relay.failure or ("" if completed else "client_disconnected")
            stream = opened[0].result[0]
            self._record(request, opened[0].target, started, stream.usage, failure)

    def _record(
        self,
        request: validate.Request,
        target: routing.Target,
        started: float,
        usage: base.Usage | None,
        error_type: str,
    ) -> None:
        metrics = self.gateway.metrics
        operation = _OPERATIONS[request.kind]
        provider_type = target.provider.spec.type
        model = target.model.name
        metrics.responses.labels(operation, "200").inc()
        metrics.request_duration.labels(
            operation, provider_type, model, target.provider_name, error_type
        ).observe(time.perf_counter() - started)
        if usage is None:
            return
        for token_type, count in (("input", usage.input_tokens), ("output", usage.output_tokens)):
            metrics.token_usage.labels(
                operation, provider_type, model, target.provider_name, token_type
            ).observe(count)
        cost = usage.input_tokens * target.input_price + usage.output_tokens * target.output_price
        if cost:
            metrics.cost.labels(target.pool, target.provider_name, model).inc(cost)


_OPERATIONS: dict[config.Kind, str] = {
    "chat": "chat",
    "completion": "text_completion",
    "embedding": "embeddings",
}


def _unknown_model(current: runtime.Runtime, request: validate.Request) -> errors.GatewayError:
    if request.model in current.model_bodies:
        return errors.GatewayError(
            400,
            f"The model {request.model!r} does not serve {_ENDPOINTS[request.kind]}.",
            type=errors.INVALID_REQUEST,
            code="model_not_supported",
            param="model",
        )
    return errors.model_not_found(request.model)


_ENDPOINTS: dict[config.Kind, str] = {
    "chat": "/v1/chat/completions",
    "completion": "/v1/completions",
    "embedding": "/v1/embeddings",
}
