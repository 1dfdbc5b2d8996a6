"""Config reload: a change to the config file or to a secret file it names goes live without
dropping in-flight requests; an invalid config is refused, logged and counted, and the old one
keeps serving."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from fixtures.upstreams import control, gateway_process, running
from fixtures.upstreams.gateway_process import eventually, model, pool, provider
from runestone_gateway import apikeys

Starter = Callable[..., gateway_process.GatewayProcess]
ASK: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
FAST_RELOAD = {"reloadCheckSeconds": 0.2}
RELOADS = "runestone_config_reloads_total"


def routed_to(upstream: running.Upstream, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "server": FAST_RELOAD,
        "providerPools": [pool("p", [provider(name, upstream, models=[model("m")], **extra)])],
    }


def answer(gateway: gateway_process.GatewayProcess) -> str | None:
    return (
        gateway.client().chat.completions.create(model="m", messages=ASK).choices[0].message.content
    )


def test_reload_during_a_stream_keeps_the_stream_and_routes_new_requests(
    start_upstream: Callable[[str], running.Upstream], start_gateway: Starter
) -> None:
    old, new = start_upstream("openai"), start_upstream("anthropic")
    old.behaviour.text = "the old upstream answers this stream to the end"
    new.behaviour.text = "the new upstream"
    gate = control.Gate()
    old.behaviour.hold_after_first = gate
    gateway = start_gateway(routed_to(old, "old"))

    stream = gateway.client().chat.completions.create(model="m", messages=ASK, stream=True)
    chunks = iter(stream)
    assert next(chunks).choices[0].delta.role == "assistant"

    gateway.write_config(routed_to(new, "new"))
    eventually(
        lambda: answer(gateway) == "the new upstream", what="new requests to use the new config"
    )
    assert gateway.metric(RELOADS, result="success") == 1

    gate.open()
    rest = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert rest == old.behaviour.text
    assert not old.record.disconnected.is_set()
    streamed = [r for r in old.record.posts() if r.body.get("stream")]
    assert len(streamed) == 1, "the stream was neither retried nor restarted"


def test_invalid_config_is_refused_and_the_old_one_keeps_serving(
    start_upstream: Callable[[str], running.Upstream], start_gateway: Starter
) -> None:
    first, second = start_upstream("openai"), start_upstream("openai")
    first.behaviour.text = "first"
    second.behaviour.text = "second"
    gateway = start_gateway(routed_to(first, "first"))
    assert gateway.config_path is not None

    gateway.config_path.write_text("providerPools: [ {name: broken\n")  # not YAML
    eventually(lambda: gateway.metric(RELOADS, result="failure") == 1, what="a counted refusal")
    assert answer(gateway) == "first"

    invalid = routed_to(second, "second")
    invalid["providerPools"][0]["routing"] = {"strategy": "round-robin"}  # not a strategy
    gateway.write_config(invalid)
    eventually(lambda: gateway.metric(RELOADS, result="failure") == 2, what="a second refusal")
    assert answer(gateway) == "first"
    assert gateway.health("/readyz").status_code == 200
    assert "refused the changed config" in gateway.stderr()
    assert "round-robin" in gateway.stderr() or "strategy" in gateway.stderr()

    gateway.write_config(routed_to(second, "second"))
    eventually(lambda: answer(gateway) == "second", what="the next valid config to go live")
    assert gateway.metric(RELOADS, result="success") == 1


def test_a_missing_secret_file_is_refused(
    openai_upstream: running.Upstream, start_gateway: Starter, tmp_path: Path
) -> None:
    gateway = start_gateway(routed_to(openai_upstream, "up"))
    gateway.write_config(routed_to(openai_upstream, "up", api_key_file=tmp_path / "nowhere"))
    eventually(lambda: gateway.metric(RELOADS, result="failure") == 1, what="a counted refusal")
    assert answer(gateway) == openai_upstream.behaviour.text


def test_a_changed_provider_key_file_is_reread(
    openai_upstream: running.Upstream, start_gateway: Starter, tmp_path: Path
) -> None:
    key_file = tmp_path / "provider-key"
    key_file.write_text("sk-first")
    gateway = start_gateway(routed_to(openai_upstream, "up", api_key_file=key_file))
    answer(gateway)
    assert openai_upstream.record.posts()[-1].headers["authorization"] == "Bearer sk-first"

    key_file.write_text("sk-rotated")

    def upstream_sees_rotated_key() -> bool:
        answer(gateway)
        return openai_upstream.record.posts()[-1].headers["authorization"] == "Bearer sk-rotated"

    eventually(upstream_sees_rotated_key, what="the rotated provider key to be used")
    assert "sk-rotated" not in gateway.stderr()
    assert "sk-first" not in gateway.stderr()


def test_a_changed_key_table_is_reread(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    gateway = start_gateway(routed_to(openai_upstream, "up"))
    assert gateway.config_path is not None
    table_path = Path(yaml.safe_load(gateway.config_path.read_text())["auth"]["keyTableFile"])
    new_key = apikeys.generate()
    table_path.write_text(
        yaml.safe_dump({"keys": [{"id": "new", "sha256": apikeys.digest(new_key)}]})
    )

    def new_key_accepted() -> bool:
        try:
            gateway.client(api_key=new_key).models.list()
        except openai.AuthenticationError:
            return False
        return True

    eventually(new_key_accepted, what="the new key to be accepted")
    with pytest.raises(openai.AuthenticationError):
        gateway.client().models.list()
