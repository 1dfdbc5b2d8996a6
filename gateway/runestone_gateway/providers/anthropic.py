"""Anthropic's Messages API behind the OpenAI interface; translation lives in `anthropic_wire`."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator

import aiohttp
import orjson

from runestone_gateway import config, sse
from runestone_gateway.providers import anthropic_stream, anthropic_wire, base, http

API_VERSION = "2023-06-01"


class AnthropicProvider(base.Provider):
    def __init__(self, spec: config.Provider, api_key: str | None) -> None:
        super().__init__(spec)
        root = spec.effective_base_url
        root = root.removesuffix("/v1")
        self._messages_url = root + "/v1/messages"
        self._models_url = root + "/v1/models"
        headers = {"anthropic-version": API_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        self._session = http.session(headers=headers)
        self._unary_timeout = http.unary_timeout(spec.timeout_seconds)
        self._stream_timeout = http.stream_timeout(spec.timeout_seconds)

    async def answer(self, call: base.Call) -> base.Answer:
        request = anthropic_wire.to_messages_request(call, stream=False)
        try:
            async with self._session.post(
                self._messages_url,
                data=orjson.dumps(request),
                headers={"content-type": "application/json"},
                timeout=self._unary_timeout,
            ) as response:
                if response.status != 200:
                    raise await http.status_error(response, self.name)
                raw = await response.read()
        except (TimeoutError, aiohttp.ClientError) as error:
            raise http.transport_error(error, self.name) from None
        message = http.json_object(raw, self.name)
        translated = anthropic_wire.from_message(message, call.kind, int(time.time()))
        usage = anthropic_wire.usage_of(message.get("usage"))
        return base.Answer(orjson.dumps(translated), usage)

    async def stream(self, call: base.Call) -> base.EventStream:
        request = anthropic_wire.to_messages_request(call, stream=True)
        try:
            response = await self._session.post(
                self._messages_url,
                data=orjson.dumps(request),
                headers={"content-type": "application/json", "accept-encoding": "identity"},
                timeout=self._stream_timeout,
            )
        except (TimeoutError, aiohttp.ClientError) as error:
            raise http.transport_error(error, self.name) from None
        if response.status != 200:
            try:
                raise await http.status_error(response, self.name)
            finally:
                response.close()
        meter = base.UsageMeter()
        return base.EventStream(self._translate(call, response, meter), meter)

    async def _translate(
        self, call: base.Call, response: aiohttp.ClientResponse, meter: base.UsageMeter
    ) -> AsyncGenerator[bytes, None]:
        translator = anthropic_stream.StreamTranslator(call.kind, int(time.time()))
        splitter = sse.EventSplitter()
        try:
            async for chunk in response.content.iter_any():
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
                if translator.done:
                    break
        except (TimeoutError, aiohttp.ClientError) as error:
            raise http.transport_error(error, self.name) from None
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
        try:
            async with self._session.get(self._models_url) as response:
                return response.status < 500
        except aiohttp.ClientError:
            return False

    async def close(self) -> None:
        await self._session.close()
