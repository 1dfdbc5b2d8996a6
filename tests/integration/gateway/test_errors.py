"""Every failure a client can cause or meet gets the documented status and the OpenAI error
envelope, and none of them takes the process down."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from fixtures.upstreams import gateway_process, running
from fixtures.upstreams.gateway_process import model, pool, provider

Starter = Callable[..., gateway_process.GatewayProcess]
ASK: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
BODY_LIMIT = 4096


def assert_envelope(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str)
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    return dict(error)


@pytest.fixture
def gateway(
    openai_upstream: running.Upstream, refused_port: int, start_gateway: Starter
) -> Iterator[gateway_process.GatewayProcess]:
    document = {
        "server": {"maxBodyBytes": BODY_LIMIT},
        "providerPools": [
            pool("live", [provider("up", openai_upstream, models=[model("m")])]),
            pool(
                "dead",
                [
                    provider(
                        "nobody-home",
                        base_url=f"http://127.0.0.1:{refused_port}/v1",
                        models=[model("down")],
                    ),
                    provider(
                        "also-nobody",
                        base_url=f"http://127.0.0.1:{refused_port}/v1",
                        priority=1,
                        models=[model("down")],
                    ),
                ],
            ),
            pool("mocked", [provider("mock", models=[model("embedder", kinds=["embedding"])])]),
        ],
    }
    gateway = start_gateway(document)
    yield gateway
    assert gateway.process.poll() is None, "an error must never take the process down"
    assert gateway.health("/livez").status_code == 200


def post(gateway: gateway_process.GatewayProcess, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {gateway.api_key}", **kwargs.pop("headers", {})}
    return httpx.post(gateway.base_url + path, headers=headers, timeout=30, **kwargs)


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[1, 2]", b'{"model": 5, "messages": []}', b'{"model": "m"}', b""],
)
def test_malformed_requests_get_400(
    gateway: gateway_process.GatewayProcess, content: bytes
) -> None:
    response = post(gateway, "/chat/completions", content=content)
    error = assert_envelope(response, 400)
    assert error["type"] == "invalid_request_error"


def test_malformed_fields_name_the_parameter(gateway: gateway_process.GatewayProcess) -> None:
    response = post(
        gateway, "/chat/completions", json={"model": "m", "messages": ASK, "stream": "yes"}
    )
    assert assert_envelope(response, 400)["param"] == "stream"
    with pytest.raises(openai.BadRequestError) as raised:
        gateway.client().embeddings.create(model="embedder", input=[])
    assert raised.value.status_code == 400


def test_unknown_model_gets_404(gateway: gateway_process.GatewayProcess) -> None:
    client = gateway.client()
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="no-such-model", messages=ASK)
    assert raised.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="no-such-model", prompt="x")
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-model", input="x")
    response = post(gateway, "/chat/completions", json={"model": "nope", "messages": ASK})
    assert assert_envelope(response, 404, "model_not_found")["param"] == "model"


def test_model_asked_for_the_wrong_kind_gets_400(gateway: gateway_process.GatewayProcess) -> None:
    response = post(gateway, "/embeddings", json={"model": "m", "input": "x"})
    assert_envelope(response, 400, "model_not_supported")


def test_body_too_large_gets_413(gateway: gateway_process.GatewayProcess) -> None:
    with pytest.raises(openai.APIStatusError) as raised:
        gateway.client().chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x" * (BODY_LIMIT * 4)}]
        )
    assert raised.value.status_code == 413
    assert raised.value.code == "request_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
        yield b'{"model": "m", "messages": [{"role": "user", "content": "'
        for _ in range(BODY_LIMIT // 512 + 2):
            yield b"y" * 512
        yield b'"}]}'

    assert_envelope(post(gateway, "/chat/completions", content=chunks()), 413, "request_too_large")


def test_missing_or_wrong_key_gets_401(gateway: gateway_process.GatewayProcess) -> None:
    with pytest.raises(openai.AuthenticationError):
        gateway.client(api_key="rsk_not-a-real-key").chat.completions.create(
            model="m", messages=ASK
        )
    response = httpx.post(
        gateway.base_url + "/chat/completions", json={"model": "m", "messages": ASK}
    )
    assert_envelope(response, 401, "invalid_api_key")
    response = httpx.get(gateway.base_url + "/models", headers={"authorization": "Basic abc"})
    assert_envelope(response, 401)


def test_all_upstreams_down_gets_502(gateway: gateway_process.GatewayProcess) -> None:
    with pytest.raises(openai.APIStatusError) as raised:
        gateway.client().chat.completions.create(model="down", messages=ASK)
    assert raised.value.status_code == 502
    assert raised.value.code == "upstream_failed"
    response = post(
        gateway, "/chat/completions", json={"model": "down", "messages": ASK, "stream": True}
    )
    assert_envelope(response, 502, "upstream_failed")


def test_all_upstreams_timing_out_gets_504(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    openai_upstream.behaviour.delay_seconds = 120
    slow = provider("slow", openai_upstream, models=[model("m")], timeoutSeconds=1)
    gateway = start_gateway({"providerPools": [pool("p", [slow])]})
    with pytest.raises(openai.APIStatusError) as raised:
        gateway.client().chat.completions.create(model="m", messages=ASK)
    assert raised.value.status_code == 504
    assert raised.value.code == "upstream_timeout"


def test_unknown_routes_and_methods(gateway: gateway_process.GatewayProcess) -> None:
    headers = {"authorization": f"Bearer {gateway.api_key}"}
    assert_envelope(httpx.get(gateway.base_url + "/nowhere", headers=headers), 404, "not_found")
    assert_envelope(httpx.get(gateway.base_url + "/chat/completions", headers=headers), 405)
    assert_envelope(httpx.delete(gateway.base_url + "/models", headers=headers), 405)
