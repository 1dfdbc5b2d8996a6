"""The other gateways as bench targets: TensorZero's config, Portkey's routing headers, which
endpoint cells each target is measured on (and why not the others), what each target's line
says it does, and the requests each target is sent."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

import gateway_overhead
import gateways
import overhead_report
import peers

TARGETS = ["direct", "runestone", "litellm", "before", "floor-raw", "floor-asgi", "portkey"]
TARGETS += list(peers.TENSORZERO_THREADS)


def test_tensorzero_config_points_one_model_at_the_upstream_with_no_key() -> None:
    config = tomllib.loads(peers.tensorzero_config(4321))
    model = config["models"][gateways.MODEL]
    assert model["routing"] == ["upstream"]
    provider = model["providers"]["upstream"]
    assert provider == {
        "type": "openai",
        "model_name": gateways.MODEL,
        "api_base": "http://127.0.0.1:4321/v1/",
        "api_key_location": "none",
    }
    assert config["gateway"]["observability"] == {"enabled": False}


def test_portkey_routes_openai_apis_to_an_openai_provider_and_messages_to_anthropic() -> None:
    headers = peers.portkey_headers(4321)
    host = "x-portkey-custom-host: http://127.0.0.1:4321/v1"
    assert headers["chat"] == ("x-portkey-provider: openai", host)
    assert headers["responses"] == ("x-portkey-provider: openai", host)
    assert headers["messages"] == ("x-portkey-provider: anthropic", host)


def test_the_skip_rules_know_every_endpoint_the_bench_measures() -> None:
    assert set(peers.ALL_ENDPOINTS) == set(gateway_overhead.ENDPOINT_NAMES)
    for served in peers.SERVED.values():
        assert set(served) <= set(peers.ALL_ENDPOINTS)


@pytest.mark.parametrize("target", ["direct", "runestone"])
def test_the_floor_and_runestone_are_measured_on_every_endpoint(target: str) -> None:
    assert all(peers.skip_reason(target, e) is None for e in peers.ALL_ENDPOINTS)


def test_each_target_is_measured_on_the_endpoints_it_serves() -> None:
    measured = {
        target: [e for e in peers.ALL_ENDPOINTS if peers.skip_reason(target, e) is None]
        for target in TARGETS
    }
    assert measured["tensorzero"] == measured["tensorzero2"] == ["chat"]
    assert measured["portkey"] == ["chat", "responses-native", "messages-native"]
    assert measured["litellm"] == measured["before"] == measured["floor-raw"] == ["chat"]


@pytest.mark.parametrize("target", TARGETS)
def test_every_skipped_cell_has_a_reason(target: str) -> None:
    for endpoint in peers.ALL_ENDPOINTS:
        if endpoint not in peers.SERVED.get(peers.family(target), peers.ALL_ENDPOINTS):
            assert peers.skip_reason(target, endpoint)


def test_portkeys_reasons_say_where_its_endpoints_are_measured_instead() -> None:
    assert "responses-native" in str(peers.skip_reason("portkey", "responses"))
    assert "messages-native" in str(peers.skip_reason("portkey", "messages"))
    assert "/openai/v1" in str(peers.skip_reason("tensorzero2", "messages-native"))


def test_a_target_name_family_and_statement() -> None:
    assert peers.family("tensorzero2") == "tensorzero"
    assert peers.family("floor-asgi") == "floor"
    assert peers.family("portkey") == "portkey"
    assert peers.statement("tensorzero").endswith("1 tokio worker thread(s)")
    assert peers.statement("tensorzero2").endswith("2 tokio worker thread(s)")
    for target in TARGETS:
        assert peers.statement(target)
    said = peers.statement("runestone")
    assert all(part in said for part in ("auth on", "limits on", "metrics on", "access log on"))
    assert "auth off" in peers.statement("portkey")
    assert "auth off" in peers.statement("tensorzero")


def test_the_run_statement_prints_each_skipped_cell_under_its_target() -> None:
    lines = overhead_report.run_statement(["runestone", "portkey"], ["chat", "messages"])
    assert lines[1].split()[0] == "runestone"
    assert lines[2].split()[0] == "portkey"
    assert lines[3].split()[0:3] == ["messages:", "not", "measured:"]
    assert len(lines) == 4


def test_the_embedded_gateways_port_is_read_from_its_base_url() -> None:
    assert peers.parse_port("http://127.0.0.1:41865/openai/v1") == 41865
    with pytest.raises(SystemExit, match="unexpected address"):
        peers.parse_port("http://10.0.0.1:41865/openai/v1")
    with pytest.raises(SystemExit, match="unexpected address"):
        peers.parse_port("http://127.0.0.1/openai/v1")


def _head(request: bytes) -> list[str]:
    return request.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")


def test_tensorzero_is_sent_its_path_and_model_name() -> None:
    target = gateways.Target("tensorzero", 9000, None, None, 1)
    target.prefix = peers.TENSORZERO_PREFIX
    target.model_prefix = peers.TENSORZERO_MODEL.removesuffix(gateways.MODEL)
    api, request = gateway_overhead.payload(target, "chat", stream=True)
    assert api.path == "/openai/v1/chat/completions"
    assert api.done == b"[DONE]"
    assert _head(request)[0] == "POST /openai/v1/chat/completions HTTP/1.1"
    assert b'"model":"tensorzero::model_name::bench-model"' in request
    assert not any(line.startswith("authorization") for line in _head(request))


def test_portkey_is_sent_its_routing_headers_per_api_and_the_upstream_key() -> None:
    target = gateways.Target("portkey", 9000, peers.PORTKEY_UPSTREAM_KEY, None, 1)
    target.headers = peers.portkey_headers(4321)
    _, chat = gateway_overhead.payload(target, "chat", stream=False)
    assert "x-portkey-provider: openai" in _head(chat)
    assert f"authorization: Bearer {peers.PORTKEY_UPSTREAM_KEY}" in _head(chat)
    api, messages = gateway_overhead.payload(target, "messages-native", stream=True)
    assert api.path == "/v1/messages"
    assert "x-portkey-provider: anthropic" in _head(messages)
    assert "x-portkey-custom-host: http://127.0.0.1:4321/v1" in _head(messages)


def test_other_targets_are_sent_the_plain_request() -> None:
    target = gateways.Target("runestone", 9000, "rs-key", None, 1)
    api, request = gateway_overhead.payload(target, "chat", stream=False, sdk_headers=True)
    assert api.path == "/v1/chat/completions"
    assert _head(request)[0] == "POST /v1/chat/completions HTTP/1.1"
    assert not any(line.startswith("x-portkey") for line in _head(request))
    assert b'"model":"bench-model"' in request


def test_a_target_that_does_not_come_up_is_stopped() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    target = gateways.Target("portkey", 9000, None, process, 1)
    with pytest.raises(SystemExit), peers._stopped_on_failure(target):
        raise SystemExit("timed out waiting")
    assert process.poll() is not None
