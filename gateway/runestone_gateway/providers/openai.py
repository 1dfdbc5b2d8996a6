"""Any OpenAI-compatible server (OpenAI, vLLM, Ollama, TGI, LM Studio): requests go through with
only `model` rewritten, answers come back byte for byte. Streams are relayed event by event; the
only event parsed is the one that carries usage. A server that speaks the Responses API too
(`api: responses`) takes Responses requests at `/responses` the same way (`native`)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import orjson

from runestone_gateway import config
from runestone_gateway.providers import base, http, native
from runestone_gateway.translate import usage as usage_
from runestone_gateway.transport import h1, sse

PATHS: dict[str, str] = {
    "chat": "/chat/completions",
    "completion": "/completions",
    "embedding": "/embeddings",
}


class OpenAIProvider(base.Provider):
    def __init__(self, spec: config.Provider, api_key: str | None) -> None:
        super().__init__(spec)
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._upstream = http.Upstream(
            spec.effective_base_url, headers, spec.timeout_seconds, self.name
        )
        self._paths = {kind: self._upstream.pool.path(path) for kind, path in PATHS.items()}
        self._responses_path = self._upstream.pool.path("/responses")

    async def answer(self, call: base.Call) -> base.Answer:
        if call.api == "responses":
            raw = await self._upstream.post(self._responses_path, native.body(call))
            usage = usage_.from_responses(http.json_object(raw, self.name).get("usage"))
            return base.Answer(raw, usage)
        payload = orjson.dumps({**call.body, "model": call.upstream_model})
        raw = await self._upstream.post(self._paths[call.kind], payload)
        return base.Answer(raw, _usage(http.json_object(raw, self.name).get("usage")))

    async def stream(self, call: base.Call) -> base.EventStream:
        meter = base.UsageMeter()
        if call.api == "responses":
            response = await self._upstream.open_stream(self._responses_path, native.body(call))
            reader = native.ResponsesReader(self.name)
            return base.EventStream(native.relay(self._upstream, response, reader, meter), meter)
        body: dict[str, Any] = {**call.body, "model": call.upstream_model, "stream": True}
        # Ask for usage even when the client did not, so it can be counted; the usage-only
        # chunk is then kept from the client.
        body["stream_options"] = {**(call.body.get("stream_options") or {}), "include_usage": True}
        response = await self._upstream.open_stream(self._paths[call.kind], orjson.dumps(body))
        return base.EventStream(self._relay(response, meter, call.include_usage), meter)

    async def _relay(
        self, response: h1.Response, meter: base.UsageMeter, client_wants_usage: bool
    ) -> AsyncGenerator[bytes, None]:
        splitter = sse.EventSplitter()
        finished = False
        try:
            async for chunk in self._upstream.chunks(response):
                # Events that arrived together leave together: one write to the client each.
                passed: list[bytes] = []
                for event in splitter.feed(chunk):
                    if b'"usage"' in event:
                        usage_only = _count_usage(event, meter)
                        if usage_only and not client_wants_usage:
                            continue
                    elif sse.DONE in event and sse.parse(event)[1] == sse.DONE:
                        finished = True
                    passed.append(event)
                if passed:
                    yield passed[0] if len(passed) == 1 else b"".join(passed)
        finally:
            # Closing (rather than releasing) an unfinished response drops the connection,
            # which is how the upstream learns that the request was cancelled.
            if finished:
                response.release()
            else:
                response.close()
        if not finished:
            raise base.UpstreamError(
                base.FailureKind.PROTOCOL, f"{self.name}: stream ended before [DONE]"
            )

    async def probe(self) -> bool:
        return await self._upstream.probe("/models")

    async def close(self) -> None:
        await self._upstream.close()


def _count_usage(event: bytes, meter: base.UsageMeter) -> bool:
    """Record the usage an event carries; True when it is the usage-only final chunk."""
    data = sse.parse(event)[1]
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(chunk, dict):
        return False
    usage = _usage(chunk.get("usage"))
    if usage is None:
        return False
    meter.usage = usage
    return chunk.get("choices") == []


def _usage(value: object) -> base.Usage | None:
    """Chat usage with its cached and reasoning details; None without a prompt count."""
    if not isinstance(value, dict) or not isinstance(value.get("prompt_tokens"), int):
        return None
    return usage_.from_chat(value)
