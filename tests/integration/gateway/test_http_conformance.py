"""One HTTP/1.1 conformance set for the API port, run against a real gateway process with each
protocol `runestone gateway --http` can serve it with: the gateway's own (`runestone`) and
uvicorn's httptools protocol. Spoken over raw sockets, so the framing is what is tested.

Every answer on the data port is in the API's error envelope, the HTTP layer's own refusals
included (under uvicorn's protocols the gateway supplies those answers); bad chunked framing is
answered 400; an unparsable request target is one warning line and a 400. Where uvicorn's
protocols still differ, the case is marked (strict xfail) with the reason."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import pytest

from fixtures.upstreams import control, gateway_process, raw_http, running
from fixtures.upstreams.gateway_process import model, pool, provider

PROTOCOLS = ["runestone", "httptools"]
BODY_LIMIT = 4096
KEEP_ALIVE_SECONDS = 5  # uvicorn's default, which both protocols take
READ_TIMEOUT = raw_http.READ_TIMEOUT
CHAT = orjson.dumps({"model": "chat", "messages": [{"role": "user", "content": "hi there"}]})
STREAM = orjson.dumps(
    {"model": "chat", "messages": [{"role": "user", "content": "one two"}], "stream": True}
)
HELD = orjson.dumps(
    {"model": "held", "messages": [{"role": "user", "content": "hi"}], "stream": True}
)

NO_HEAD_LIMIT = "uvicorn's httptools protocol sets no limit on the size of a request head"
REFUSAL_FIRST = (
    "uvicorn's protocols write their 400 as soon as they refuse, ahead of the answer to the "
    "request pipelined before it"
)
NO_HEAD_TIMEOUT = (
    "uvicorn's httptools protocol times out idle kept-alive connections only, not a first head "
    "that never finishes"
)

Connection = raw_http.Connection


def known_difference(
    request: pytest.FixtureRequest, reason: str, raises: type[Exception] = AssertionError
) -> None:
    """Mark the running test as failing today, for this reason and in this way only."""
    request.applymarker(pytest.mark.xfail(reason=reason, raises=raises, strict=True))


@dataclass
class Gateway:
    process: gateway_process.GatewayProcess
    protocol: str

    def connect(self) -> Connection:
        return raw_http.connect(self.process.port, self.process.api_key)


@pytest.fixture(scope="module", params=PROTOCOLS)
def gateway(
    request: pytest.FixtureRequest,
    module_gateways: gateway_process.GatewayStarter,
    module_upstream: running.Upstream,
) -> Gateway:
    protocol: str = request.param
    document = {
        "server": {"maxBodyBytes": BODY_LIMIT},
        "providerPools": [
            pool("mocked", [provider("mock", models=[model("chat", kinds=["chat"])])]),
            pool("standin", [provider("up", module_upstream, models=[model("held")])]),
        ],
    }
    process = module_gateways(document, args=("--http", protocol))
    assert f"{protocol} protocol" in process.stderr(), "the gateway names the protocol it serves"
    return Gateway(process, protocol)


@pytest.fixture
def upstream(module_upstream: running.Upstream) -> Iterator[running.Upstream]:
    """The module's stand-in, its behaviour and record reset after each test."""
    module_upstream.record.reset()
    yield module_upstream
    gate = module_upstream.behaviour.hold_after_first
    if gate is not None:
        gate.open()
    module_upstream.behaviour.hold_after_first = None
    module_upstream.behaviour.delay_seconds = 0.0


# -- framing and keep-alive


def test_whole_answers_carry_their_length_and_keep_the_connection(gateway: Gateway) -> None:
    with gateway.connect() as connection:
        for _ in range(3):
            connection.send(connection.post(b"/v1/chat/completions", CHAT))
            answer = connection.answer()
            assert answer.status == 200
            assert answer.headers[b"content-type"] == b"application/json"
            assert int(answer.headers[b"content-length"]) == len(answer.body)
            assert orjson.loads(answer.body)["choices"][0]["message"]["content"]
            assert b"date" in answer.headers
            assert b"server" not in answer.headers
            assert b"connection" not in answer.headers, "kept alive"
        connection.send(connection.get(b"/v1/models"))
        assert connection.answer().status == 200


def test_head_answers_carry_headers_and_no_body(gateway: Gateway) -> None:
    with gateway.connect() as connection:
        connection.send(connection.get(b"/v1/models", method=b"HEAD"))
        answer = connection.answer(head_only=True)
        assert answer.status == 405
        assert int(answer.headers[b"content-length"]) > 0
        connection.send(connection.get(b"/v1/models"))
        assert connection.answer().status == 200, "no body bytes came between the two answers"


def test_http_1_0_and_connection_close_end_the_connection(gateway: Gateway) -> None:
    for request in (
        b"GET /v1/models HTTP/1.0\r\nauthorization: Bearer %s\r\n\r\n",
        b"GET /v1/models HTTP/1.1\r\nhost: x\r\nauthorization: Bearer %s\r\n"
        b"connection: close\r\n\r\n",
    ):
        with gateway.connect() as connection:
            connection.send(request % gateway.process.api_key.encode())
            answer = connection.answer()
            assert answer.status == 200
            assert answer.headers[b"connection"] == b"close"
            assert connection.closed_within(10)


def test_pipelined_requests_are_answered_in_order(gateway: Gateway) -> None:
    with gateway.connect() as connection:
        connection.send(
            connection.post(b"/v1/chat/completions", CHAT)
            + connection.get(b"/v1/models/chat")
            + connection.get(b"/v1/nowhere")
        )
        first, second, third = (connection.answer() for _ in range(3))
        assert first.status == 200
        assert orjson.loads(first.body)["object"] == "chat.completion"
        assert second.status == 200
        assert orjson.loads(second.body)["id"] == "chat"
        assert third.status == 404


def test_expect_100_continue_is_answered_before_the_body(gateway: Gateway) -> None:
    with gateway.connect() as connection:
        request = connection.post(b"/v1/chat/completions", CHAT, b"expect: 100-continue")
        connection.send(request[: -len(CHAT)])
        assert connection.answer().status == 100
        connection.send(CHAT)
        assert connection.answer().status == 200


def test_idle_connections_are_closed_after_the_keep_alive_timeout(gateway: Gateway) -> None:
    with gateway.connect() as connection:
        connection.send(connection.get(b"/v1/models"))
        assert connection.answer().status == 200
        started = time.monotonic()
        assert connection.closed_within(KEEP_ALIVE_SECONDS * 3)
        assert time.monotonic() - started >= KEEP_ALIVE_SECONDS - 1


def test_a_head_that_never_finishes_is_closed_after_the_keep_alive_timeout(
    gateway: Gateway, request: pytest.FixtureRequest
) -> None:
    if gateway.protocol == "httptools":
        known_difference(request, NO_HEAD_TIMEOUT)
    with gateway.connect() as connection:
        connection.send(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
        assert connection.closed_within(KEEP_ALIVE_SECONDS * 3)


# -- request bodies


def test_chunked_request_bodies_arrive_whole(gateway: Gateway) -> None:
    chunks = [CHAT[:10], CHAT[10:11], CHAT[11:]]
    with gateway.connect() as connection:
        connection.send(
            connection.post(b"/v1/chat/completions", b"", b"transfer-encoding: chunked")
        )
        for chunk in chunks:
            connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            time.sleep(0.05)
        connection.send(b"0\r\n\r\n")
        answer = connection.answer()
        assert answer.status == 200, answer.body
        assert orjson.loads(answer.body)["choices"][0]["message"]["content"] == (
            "Mock answer: hi there"
        )
        connection.send(connection.post(b"/v1/chat/completions", CHAT))
        assert connection.answer().status == 200


def test_a_declared_length_over_the_limit_gets_413_before_the_body(gateway: Gateway) -> None:
    with gateway.connect() as connection:
        request = connection.post(b"/v1/chat/completions", b"x" * (BODY_LIMIT + 1))
        connection.send(request[: -(BODY_LIMIT + 1)])  # the head only
        answer = connection.answer()
        assert answer.status == 413
        assert answer.envelope()["code"] == "request_too_large"


def test_a_chunked_body_over_the_limit_gets_413(gateway: Gateway) -> None:
    with gateway.connect() as connection:
        connection.send(
            connection.post(b"/v1/chat/completions", b"", b"transfer-encoding: chunked")
        )
        piece = b"x" * 1024
        for _ in range(BODY_LIMIT // len(piece) + 1):
            connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        connection.send(b"0\r\n\r\n")
        answer = connection.answer()
        assert answer.status == 413
        assert answer.envelope()["code"] == "request_too_large"


# -- errors


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"POST /v1/chat/completions", 401, "invalid_api_key"),
        (b"POST /v1/nowhere", 404, "not_found"),
        (b"DELETE /v1/chat/completions", 405, "method_not_allowed"),
        (b"GET /v1/models/nope", 404, "model_not_found"),
        (b"POST /v1/chat/completions {not json", 400, "invalid_request"),
    ],
    ids=["no-key", "no-route", "wrong-method", "unknown-model", "bad-json"],
)
def test_errors_are_answered_in_the_envelope_and_keep_the_connection(
    gateway: Gateway, request_bytes: bytes, status: int, code: str
) -> None:
    method, path, *body = request_bytes.split(b" ", 2)
    with gateway.connect() as connection:
        if method == b"POST":
            connection.send(connection.post(path, b"".join(body), key=status != 401))
        else:
            connection.send(connection.get(path, method=method))
        answer = connection.answer()
        assert answer.status == status
        assert answer.envelope()["code"] == code
        connection.send(connection.get(b"/v1/models"))
        assert connection.answer().status == 200, "the connection is still usable"


CHUNKED_HEAD = (
    b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer <key>\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
"""A request whose chunked body follows, from a client with a key (so the body is read)."""
REFUSED = {
    "garbage": b"NOT HTTP AT ALL\r\n\r\n",
    "bad-content-length": b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
    b"content-length: abc\r\n\r\n",
    "length-and-chunked": b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n"
    b"transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "connect": b"CONNECT host:22 HTTP/1.1\r\nhost: host:22\r\n\r\n",
    "chunk-size-not-hex": CHUNKED_HEAD + b"zz\r\nabc\r\n0\r\n\r\n",
    "chunk-size-negative": CHUNKED_HEAD + b"-5\r\nhello\r\n0\r\n\r\n",
    "chunk-size-overflow": CHUNKED_HEAD + b"f" * 20 + b"\r\nhello\r\n0\r\n\r\n",
    "chunk-size-then-space": CHUNKED_HEAD + b"5 \r\nhello\r\n0\r\n\r\n",
    "chunk-longer-than-declared": CHUNKED_HEAD + b"2\r\nabcdef\r\n0\r\n\r\n",
    "chunk-broken-after-a-good-one": CHUNKED_HEAD + b"5\r\nhello\r\nzz\r\n0\r\n\r\n",
    "target-unclosed-bracket": b"GET http://[::1 HTTP/1.1\r\nhost: x\r\n\r\n",
}
"""Requests the HTTP layer must refuse: the app never serves them (a broken body reaches it, under
the gateway's own protocol, as a 400 to answer)."""


@pytest.mark.parametrize("case", list(REFUSED))
def test_unframeable_requests_get_400_in_the_envelope_and_the_connection_closed(
    gateway: Gateway, case: str
) -> None:
    with gateway.connect() as connection:
        connection.send(REFUSED[case].replace(b"<key>", gateway.process.api_key.encode()))
        answer = connection.answer()
        assert answer.status == 400
        assert answer.envelope()["type"] == "invalid_request_error"
        assert answer.headers[b"connection"] == b"close"
        assert connection.closed_within(10)


def test_a_refusal_waits_for_the_answer_before_it(
    gateway: Gateway, request: pytest.FixtureRequest
) -> None:
    """A broken request pipelined behind a good one: the good one is answered whole, then the
    400, then the connection closes."""
    if gateway.protocol == "httptools":
        known_difference(request, REFUSAL_FIRST)
    with gateway.connect() as connection:
        connection.send(connection.post(b"/v1/chat/completions", CHAT) + REFUSED["garbage"])
        first = connection.answer()
        assert first.status == 200
        assert orjson.loads(first.body)["object"] == "chat.completion"
        assert connection.answer().status == 400
        assert connection.closed_within(10)


@pytest.mark.parametrize("target", [b"host:22", b"http://[::1", b"http://[::1]:x/"])
def test_an_unparsable_target_is_one_warning_and_a_400(gateway: Gateway, target: bytes) -> None:
    method = b"CONNECT" if target == b"host:22" else b"GET"
    logged = len(gateway.process.stderr().splitlines())
    with gateway.connect() as connection:
        connection.send(b"%s %s HTTP/1.1\r\nhost: x\r\n\r\n" % (method, target))
        answer = connection.answer()
        assert answer.status == 400
        answer.envelope()
        assert connection.closed_within(10)

    def new_lines() -> list[str] | None:
        lines = gateway.process.stderr().splitlines()[logged:]
        return lines or None

    lines = gateway_process.eventually(new_lines, what="the warning")
    time.sleep(0.2)  # anything more it would log comes at once
    lines = gateway.process.stderr().splitlines()[logged:]
    assert len(lines) == 1, lines
    assert " WARNING " in lines[0]
    assert "Traceback" not in gateway.process.stderr()


def test_a_head_over_64_kib_gets_431_in_the_envelope(
    gateway: Gateway, request: pytest.FixtureRequest
) -> None:
    if gateway.protocol == "httptools":
        known_difference(request, NO_HEAD_LIMIT)
    with gateway.connect() as connection:
        connection.send(connection.get(b"/v1/models", b"x-big: " + b"a" * (64 * 1024 + 1)))
        answer = connection.answer()
        assert answer.status == 431
        answer.envelope()


# -- streaming and disconnects


def test_streams_are_chunked_server_sent_events_ending_in_done(gateway: Gateway) -> None:
    with gateway.connect() as connection:
        connection.send(connection.post(b"/v1/chat/completions", STREAM))
        answer = connection.answer()
        assert answer.status == 200
        assert answer.headers[b"content-type"] == b"text/event-stream; charset=utf-8"
        assert answer.headers[b"transfer-encoding"] == b"chunked"
        assert b"content-length" not in answer.headers
        events = answer.body.split(b"\n\n")
        assert events[-2:] == [b"data: [DONE]", b""]
        chunks = [orjson.loads(event.removeprefix(b"data: ")) for event in events[:-2]]
        text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
        assert text == "Mock answer: one two"
        connection.send(connection.post(b"/v1/chat/completions", CHAT))
        assert connection.answer().status == 200, "the connection is reusable after a stream"


def test_a_client_leaving_mid_stream_cancels_the_upstream_request(
    gateway: Gateway, upstream: running.Upstream
) -> None:
    upstream.behaviour.hold_after_first = control.Gate()  # the stream hangs after one event
    with gateway.connect() as connection:
        connection.send(connection.post(b"/v1/chat/completions", HELD))
        status, _, headers = connection.head()
        assert status == 200
        assert headers[b"transfer-encoding"] == b"chunked"
        assert upstream.record.first_chunk_sent.wait(READ_TIMEOUT)
    assert upstream.record.disconnected.wait(READ_TIMEOUT), "the upstream saw no disconnect"
    with gateway.connect() as connection:
        connection.send(connection.post(b"/v1/chat/completions", CHAT))
        assert connection.answer().status == 200, "the gateway serves on"


def test_a_client_leaving_before_the_answer_cancels_the_upstream_request(
    gateway: Gateway, upstream: running.Upstream
) -> None:
    upstream.behaviour.delay_seconds = 3600
    with gateway.connect() as connection:
        connection.send(connection.post(b"/v1/chat/completions", HELD))
        deadline = time.monotonic() + READ_TIMEOUT
        while not upstream.record.posts() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert upstream.record.posts(), "the request reached the upstream"
    assert upstream.record.disconnected.wait(READ_TIMEOUT), "the upstream saw no disconnect"
