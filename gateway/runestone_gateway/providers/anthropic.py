"""Anthropic's Messages API behind the OpenAI interface; translation lives in `anthropic_wire`.
Messages requests (`/v1/messages`, `count_tokens`) go through as they are (`native`), with the
client's `anthropic-version` and `anthropic-beta` headers."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator

import orjson

from runestone_gateway import config
from runestone_gateway.providers import anthropic_stream, anthropic_wire, base, http, native
from runestone_gateway.translate import usage as usage_
from runestone_gateway.transport import h1, sse

API_VERSION = "2023-06-01"
VERSION_HEADER = b"anthropic-version: " + API_VERSION.encode() + b"\r\n"


class AnthropicProvider(base.Provider):
    def __init__(self, spec: config.Provider, api_key: str | None) -> None:
        super().__init__(spec)
        root = spec.effective_base_url.removesuffix("/v1")
        # The version goes with each request: a Messages request carries its client's own.
        headers = {"x-api-key": api_key} if api_key else {}
        self._upstream = http.Upstream(root, headers, spec.timeout_seconds, self.name)
        self._messages_path = self._upstream.pool.path("/v1/messages")
        self._count_path = self._upstream.pool.path("/v1/messages/count_tokens")

    async def answer(self, call: base.Call) -> base.Answer:
        if call.api == "messages":
            raw = await self._upstream.post(
                self._messages_path, native.body(call), _native_headers(call)
            )
            usage = usage_.from_messages(http.json_object(raw, self.name).get("usage"))
            return base.Answer(raw, usage)
        request = anthropic_wire.to_messages_request(call, stream=False)
        raw = await self._upstream.post(self._messages_path, orjson.dumps(request), VERSION_HEADER)
        message = http.json_object(raw, self.name)
        translated = anthropic_wire.from_message(message, call.kind, int(time.time()))
        usage = anthropic_wire.usage_of(message.get("usage"))
        return base.Answer(orjson.dumps(translated), usage)

    async def stream(self, call: base.Call) -> base.EventStream:
        meter = base.UsageMeter()
        if call.api == "messages":
            response = await self._upstream.open_stream(
                self._messages_path, native.body(call), _native_headers(call)
            )
            reader = native.MessagesReader(self.name)
            return base.EventStream(native.relay(self._upstream, response, reader, meter), meter)
        request = anthropic_wire.to_messages_request(call, stream=True)
        response = await self._upstream.open_stream(
            self._messages_path, orjson.dumps(request), VERSION_HEADER
        )
        return base.EventStream(self._translate(call, response, meter), meter)

    async def count_tokens(self, call: base.Call) -> base.Answer:
        raw = await self._upstream.post(self._count_path, native.body(call), _native_headers(call))
        http.json_object(raw, self.name)
        return base.Answer(raw, None)

    async def _translate(
        self, call: base.Call, response: h1.Response, meter: base.UsageMeter
    ) -> AsyncGenerator[bytes, None]:
        translator = anthropic_stream.StreamTranslator(call.kind, int(time.time()))
        splitter = sse.EventSplitter()
        try:
            async for chunk in self._upstream.chunks(response):
                for event in splitter.feed(chunk):
                    name, data = sse.parse(event)
                    if not data:
                        continue
                    try:
                        payload = orjson.loads(data)
                    except orjson.JSONDecodeError:
                        raise base.UpstreamError(
                            base.FailureKind.PROTOCOL, f"{self.name}: event is not JSON"
                        ) from None
                    for openai_chunk in translator.feed(name, payload):
                        yield sse.data_event(orjson.dumps(openai_chunk))
                    meter.usage = translator.usage
                    meter.partial = not translator.done
                if translator.done:
                    break
        finally:
            if translator.done:
                response.release()
            else:
                response.close()
        if not translator.done:
            raise base.UpstreamError(
                base.FailureKind.PROTOCOL, f"{self.name}: stream ended before message_stop"
            )
        if call.include_usage:
            yield sse.data_event(orjson.dumps(translator.usage_chunk()))
        yield sse.DONE_EVENT

    async def probe(self) -> bool:
        return await self._upstream.probe("/v1/models", VERSION_HEADER)

    async def close(self) -> None:
        await self._upstream.close()


def _native_headers(call: base.Call) -> bytes:
    """The client's version (or the gateway's default) and beta headers."""
    if b"anthropic-version:" in call.headers:
        return call.headers
    return VERSION_HEADER + call.headers
