"""Request bodies that stall, drip or pile up, sent over raw sockets to a real gateway process:
a key is admitted (its concurrency and request rate taken) before its body is buffered, a body
that stalls or arrives slower than the minimum rate is answered 408 and its connection closed,
and the bodies a process holds while they arrive are bounded (503 with Retry-After past it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack

import orjson
import pytest

from fixtures.upstreams import gateway_process, keys, raw_http
from fixtures.upstreams.gateway_process import eventually, model, pool, provider

CHAT = "/v1/chat/completions"
DEADLINE_SECONDS = 2.0
MIN_RATE = 1000
MAX_BODY = 1024 * 1024
BUFFER_BOUND = 4 * MAX_BODY
BUFFERED = "runestone_gateway_request_body_buffered_bytes"
REFUSED = "runestone_gateway_request_body_rejections_total"
UPLOADS = keys.key("uploads", limits={"maxConcurrentRequests": 2})
OPEN = keys.key("open")
SERVER = {
    "bodyTimeoutSeconds": DEADLINE_SECONDS,
    "bodyMinBytesPerSecond": MIN_RATE,
    "maxBodyBytes": MAX_BODY,
    "maxBufferedBodyBytes": BUFFER_BOUND,
}


def chat_body(size: int) -> bytes:
    """A valid chat request of exactly `size` bytes."""
    empty = orjson.dumps({"model": "chat", "messages": [{"role": "user", "content": ""}]})
    return orjson.dumps(
        {"model": "chat", "messages": [{"role": "user", "content": "x" * (size - len(empty))}]}
    )


def documents(tmp_path_factory: pytest.TempPathFactory, **server: object) -> dict[str, object]:
    table = tmp_path_factory.mktemp("keys") / "keys.yaml"
    return {
        "auth": keys.write_table(table, UPLOADS, OPEN),
        "server": server,
        "providerPools": [pool("p", [provider("mock", models=[model("chat")])])],
    }


@pytest.fixture(scope="module")
def gateway(
    module_gateways: gateway_process.GatewayStarter, tmp_path_factory: pytest.TempPathFactory
) -> gateway_process.GatewayProcess:
    return module_gateways(documents(tmp_path_factory, **SERVER))


@pytest.fixture
def connections() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def open_upload(
    gateway: gateway_process.GatewayProcess,
    stack: ExitStack,
    key: keys.Key,
    declared: int,
    sent: int,
) -> raw_http.Connection:
    """A chat request that declares `declared` body bytes and sends `sent` of them."""
    connection = stack.enter_context(raw_http.connect(gateway.port, key.plaintext))
    body = chat_body(declared)
    connection.send(connection.post(CHAT.encode(), body)[: -(declared - sent) or None])
    return connection


def answered_within(connection: raw_http.Connection, seconds: float) -> raw_http.Answer | None:
    connection.sock.settimeout(seconds)
    try:
        return connection.answer()
    except TimeoutError:
        return None
    finally:
        connection.sock.settimeout(raw_http.READ_TIMEOUT)


def test_stalled_uploads_are_admitted_before_their_body(
    module_gateways: gateway_process.GatewayStarter,
    tmp_path_factory: pytest.TempPathFactory,
    connections: ExitStack,
) -> None:
    # Default body deadlines (30 s): the refusals below cannot come from them.
    gateway = module_gateways(documents(tmp_path_factory))
    uploads = [open_upload(gateway, connections, UPLOADS, 2000, 1000) for _ in range(20)]
    time.sleep(3)
    answers = [answered_within(connection, 0.5) for connection in uploads]
    refused = [answer for answer in answers if answer is not None]
    assert len(refused) == 18, [answer.status if answer else None for answer in answers]
    for answer in refused:
        assert answer.status == 429
        assert answer.envelope()["code"] == "concurrency_limit_exceeded"
        assert answer.headers[b"retry-after"] == b"1"
        assert answer.headers[b"connection"] == b"close", "its body is never read"
    assert (
        gateway.metric(
            "runestone_gateway_limit_rejections_total",
            runestone_key_id="uploads",
            limit="concurrency",
        )
        == 18
    )
    # The two admitted finish their bodies and are served; the slots come back.
    held = [connection for connection, answer in zip(uploads, answers, strict=True) if not answer]
    for connection in held:
        connection.send(chat_body(2000)[1000:])
        assert connection.answer().status == 200
    with raw_http.connect(gateway.port, UPLOADS.plaintext) as connection:
        connection.send(connection.post(CHAT.encode(), chat_body(100)))
        assert connection.answer().status == 200


@pytest.mark.parametrize("protocol", ["runestone", "httptools"])
def test_a_stalled_body_is_answered_408_after_the_deadline(
    module_gateways: gateway_process.GatewayStarter,
    tmp_path_factory: pytest.TempPathFactory,
    connections: ExitStack,
    protocol: str,
) -> None:
    gateway = module_gateways(documents(tmp_path_factory, **SERVER), args=("--http", protocol))
    stalled = [
        open_upload(gateway, connections, OPEN, 5000, sent)
        for sent in (0, 2500)  # nothing of the body, and half of it
    ]
    started = time.monotonic()
    for connection in stalled:
        answer = connection.answer()
        waited = time.monotonic() - started
        assert answer.status == 408
        assert answer.envelope()["code"] == "request_timeout"
        assert answer.headers[b"connection"] == b"close"
        assert connection.closed_within(5)
        assert DEADLINE_SECONDS - 0.5 <= waited <= DEADLINE_SECONDS + 5
    eventually(lambda: gateway.metric(REFUSED, reason="stalled") == 2, what="both stalls counted")
    assert gateway.metric(BUFFERED) == 0


def test_a_body_dripping_below_the_minimum_rate_is_answered_408(
    gateway: gateway_process.GatewayProcess, connections: ExitStack
) -> None:
    before = gateway.metric(REFUSED, reason="too_slow")
    connection = open_upload(gateway, connections, OPEN, 100_000, 100)
    body = chat_body(100_000)
    started = time.monotonic()
    sent = 100
    answer = None
    while answer is None and time.monotonic() - started < DEADLINE_SECONDS * 5:
        connection.send(body[sent : sent + 20])  # 200 bytes a second: never still, too slow
        sent += 20
        answer = answered_within(connection, 0.1)
    assert answer is not None, "still open while dripping"
    assert answer.status == 408
    assert "bytes per second" in answer.envelope()["message"]
    assert gateway.metric(REFUSED, reason="too_slow") == before + 1


def test_a_body_at_the_minimum_rate_may_take_longer_than_the_deadline(
    gateway: gateway_process.GatewayProcess, connections: ExitStack
) -> None:
    size = int(MIN_RATE * 2.5 * DEADLINE_SECONDS)
    connection = open_upload(gateway, connections, OPEN, size, 0)
    body = chat_body(size)
    started = time.monotonic()
    step = MIN_RATE * 2 // 10  # twice the minimum rate, in tenths of a second
    for offset in range(0, size, step):
        connection.send(body[offset : offset + step])
        time.sleep(0.1)
    assert time.monotonic() - started > DEADLINE_SECONDS * 1.2
    answer = connection.answer()
    assert answer.status == 200, answer.body


def test_bodies_held_while_they_arrive_are_bounded_per_process(
    module_gateways: gateway_process.GatewayStarter,
    tmp_path_factory: pytest.TempPathFactory,
    connections: ExitStack,
) -> None:
    bounds = {"maxBodyBytes": MAX_BODY, "maxBufferedBodyBytes": BUFFER_BOUND}
    gateway = module_gateways(documents(tmp_path_factory, **bounds))  # bodies may stall 30 s
    held: list[raw_http.Connection] = []
    refused: list[raw_http.Answer] = []
    for _ in range(8):  # eight bodies one byte short of the body limit, twice what may be held
        connection = open_upload(gateway, connections, OPEN, MAX_BODY, MAX_BODY - 1)
        answer = answered_within(connection, 1)
        if answer is None:
            held.append(connection)
            expected = len(held) * (MAX_BODY - 1)

            def holding(expected: int = expected) -> bool:
                return gateway.metric(BUFFERED) >= expected

            eventually(holding, what="the body held")
        else:
            refused.append(answer)
    assert len(held) == BUFFER_BOUND // MAX_BODY
    assert gateway.metric(BUFFERED) == len(held) * (MAX_BODY - 1) <= BUFFER_BOUND
    for answer in refused:
        assert answer.status == 503
        assert answer.envelope()["code"] == "overloaded"
        assert answer.headers[b"retry-after"] == b"1"
    assert gateway.metric(REFUSED, reason="overloaded") == len(refused)
    for connection in held:
        connection.sock.close()
    eventually(lambda: gateway.metric(BUFFERED) == 0, what="the held bodies let go")
    with raw_http.connect(gateway.port, OPEN.plaintext) as connection:
        connection.send(connection.post(CHAT.encode(), chat_body(MAX_BODY)))
        assert connection.answer().status == 200, "a whole body is served again"
