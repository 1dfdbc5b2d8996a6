"""Per-key limits shared by three gateway processes through one real Redis: a burst spread over
all three gets exactly the requests-per-minute limit, tokens per minute count the real usage of
whole and streamed answers, and the concurrency limit holds while streams are slow. Refusals are
429 with Retry-After and OpenAI's x-ratelimit-* headers."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

from devcluster.redis import RedisServer
from fixtures.upstreams import control, gateway_process, keys, running
from fixtures.upstreams.gateway_process import eventually, model, pool, provider

ASK: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
RPM = 10
TPM = 100
BURST = keys.key("burst", limits={"requestsPerMinute": RPM})
TOKENS = keys.key("tokens", limits={"tokensPerMinute": TPM})
STREAMS = keys.key("streams", limits={"maxConcurrentRequests": 2})


@pytest.fixture(scope="module")
def gateways(
    redis_server: RedisServer,
    module_upstream: running.Upstream,
    module_gateways: gateway_process.GatewayStarter,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[gateway_process.GatewayProcess]]:
    table = tmp_path_factory.mktemp("keys") / "keys.yaml"
    document = {
        "auth": keys.write_table(table, BURST, TOKENS, STREAMS),
        "limits": {"store": {"type": "redis", "url": redis_server.url}},
        "providerPools": [pool("p", [provider("up", module_upstream, models=[model("m")])])],
    }
    started = [module_gateways(document) for _ in range(3)]
    yield started
    for gateway in started:
        assert gateway.process.poll() is None


@pytest.fixture
def redis(redis_server: RedisServer) -> RedisServer:
    redis_server.flush()
    return redis_server


def clients(
    gateways: list[gateway_process.GatewayProcess], key: keys.Key
) -> Iterator[openai.OpenAI]:
    """One client per gateway, taken in turn: consecutive requests go to different processes."""
    return itertools.cycle([gateway.client(api_key=key.plaintext) for gateway in gateways])


def admitted(client: openai.OpenAI) -> bool:
    """Whether one chat request gets through the key's limits."""
    try:
        client.chat.completions.create(model="m", messages=ASK)
    except openai.RateLimitError:
        return False
    return True


def test_a_burst_over_three_gateways_gets_exactly_the_limit(
    gateways: list[gateway_process.GatewayProcess], redis: RedisServer
) -> None:
    spread = list(itertools.islice(clients(gateways, BURST), RPM * 3 + 6))

    def call(client: openai.OpenAI) -> openai.RateLimitError | None:
        try:
            client.chat.completions.create(model="m", messages=ASK)
        except openai.RateLimitError as error:
            return error
        return None

    with ThreadPoolExecutor(max_workers=12) as pool_:
        outcomes = list(pool_.map(call, spread))
    refused = [error for error in outcomes if error is not None]
    # Refilling one request takes 60/RPM = 6 s, far longer than the burst on loopback.
    assert len(spread) - len(refused) == RPM
    for error in refused:
        assert (error.code, error.type) == ("rate_limit_exceeded", "requests")
        headers = error.response.headers
        assert 1 <= int(headers["retry-after"]) <= 60 // RPM
        assert headers["x-ratelimit-limit-requests"] == str(RPM)
        assert headers["x-ratelimit-remaining-requests"] == "0"
    refusals = sum(
        gateway.metric(
            "runestone_gateway_limit_rejections_total", runestone_key_id="burst", limit="requests"
        )
        for gateway in gateways
    )
    assert refusals == len(spread) - RPM


def test_tokens_per_minute_count_real_usage_of_whole_and_streamed_answers(
    gateways: list[gateway_process.GatewayProcess],
    redis: RedisServer,
    module_upstream: running.Upstream,
) -> None:
    # Each answer really uses 11 prompt + 5 completion tokens; "hi" is estimated at 4 up front.
    assert len(module_upstream.behaviour.text.split(" ")) == 5
    accepted = 0
    remaining: list[int] = []
    refusal: openai.RateLimitError | None = None
    started = time.monotonic()
    for index, client in enumerate(itertools.islice(clients(gateways, TOKENS), 10)):
        try:
            if index % 2:
                streamed = client.chat.completions.with_raw_response.create(
                    model="m", messages=ASK, stream=True
                )
                chunks = streamed.parse()
                assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
                headers = streamed.headers
            else:
                whole = client.chat.completions.with_raw_response.create(model="m", messages=ASK)
                assert whole.parse().choices
                headers = whole.headers
        except openai.RateLimitError as error:
            refusal = error
            break
        accepted += 1
        remaining.append(int(headers["x-ratelimit-remaining-tokens"]))
        assert headers["x-ratelimit-limit-tokens"] == str(TPM)
    # The bucket refills at TPM/60 tokens a second: on a slow machine a few come back meanwhile.
    refilled = int((time.monotonic() - started) * TPM / 60) + 1
    assert refusal is not None
    assert refusal.type == "tokens"
    assert refusal.response.headers["x-ratelimit-limit-tokens"] == str(TPM)
    assert int(refusal.response.headers["retry-after"]) >= 1
    # Taken at admission: 4 each, corrected to 16 afterwards: 6 x 16 + 4 = 100 admits a 7th,
    # 7 x 16 + 4 does not (16 tokens take 9.6 s to come back).
    assert 7 <= accepted <= 7 + refilled // 16
    for seen, expected in zip(remaining[:3], [96, 80, 64], strict=True):
        assert expected <= seen <= expected + refilled, (remaining, refilled)


def test_the_concurrency_limit_holds_with_slow_streams(
    gateways: list[gateway_process.GatewayProcess],
    redis: RedisServer,
    module_upstream: running.Upstream,
) -> None:
    gate = control.Gate()
    module_upstream.behaviour.hold_after_first = gate
    first, second, third = (g.client(api_key=STREAMS.plaintext) for g in gateways)
    try:
        held = [
            iter(client.chat.completions.create(model="m", messages=ASK, stream=True))
            for client in (first, second)
        ]
        for stream in held:
            assert next(stream).choices[0].delta.role == "assistant"
        with pytest.raises(openai.RateLimitError) as raised:
            third.chat.completions.create(model="m", messages=ASK, stream=True)
        assert raised.value.code == "concurrency_limit_exceeded"
        assert raised.value.response.headers["retry-after"] == "1"
        with pytest.raises(openai.RateLimitError):
            third.chat.completions.create(model="m", messages=ASK)
        gate.open()
        for stream in held:
            assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    finally:
        gate.open()
        module_upstream.behaviour.hold_after_first = None

    eventually(lambda: admitted(third), what="a slot to free once the streams ended")


def test_keys_without_limits_get_no_rate_headers(
    tmp_path: Path, start_gateway: gateway_process.GatewayStarter, module_upstream: running.Upstream
) -> None:
    gateway = start_gateway(
        {"providerPools": [pool("p", [provider("up", module_upstream, models=[model("m")])])]}
    )
    raw = gateway.client().chat.completions.with_raw_response.create(model="m", messages=ASK)
    assert not [name for name in raw.headers if name.startswith("x-ratelimit")]
    assert raw.headers["x-request-id"]


def test_a_reload_can_move_the_counters_to_redis(
    tmp_path: Path,
    start_gateway: gateway_process.GatewayStarter,
    module_upstream: running.Upstream,
    redis: RedisServer,
) -> None:
    switch = keys.key("switch", limits={"requestsPerMinute": 2})
    document = {
        "auth": keys.write_table(tmp_path / "keys.yaml", switch),
        "server": {"reloadCheckSeconds": 0.2},
        "providerPools": [pool("p", [provider("up", module_upstream, models=[model("m")])])],
    }
    gateway = start_gateway(document)
    client = gateway.client(api_key=switch.plaintext)
    for _ in range(2):
        client.chat.completions.create(model="m", messages=ASK)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=ASK)

    gateway.write_config({**document, "limits": {"store": {"type": "redis", "url": redis.url}}})

    eventually(lambda: admitted(client), what="the new (empty) Redis counters to take over")
    client.chat.completions.create(model="m", messages=ASK)
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=ASK)
    assert redis.command("EXISTS", "runestone:{/switch}:requests") == b":1\r\n"
