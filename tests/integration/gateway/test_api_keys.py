"""API keys from the hashed key table, seen through the official SDK: 401 for a missing or bad
key, 403 for an expired key or a model the key may not use, both header styles, and a key
revoked in the table file refused within seconds by the running process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from fixtures.upstreams import gateway_process, keys, running
from fixtures.upstreams.gateway_process import eventually, model, pool, provider

ASK: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]

TEAM = keys.key("team", models=["m"], tenant="ns/main")
EVERYTHING = keys.key("everything")
EXPIRED = keys.key("expired", expiresAt="2020-01-01T00:00:00Z")
DISABLED = keys.key("disabled", disabled=True)
REVOKED = keys.key("revoked")
TABLE = (TEAM, EVERYTHING, EXPIRED, DISABLED, REVOKED)


@pytest.fixture(scope="module")
def table_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys") / "keys.yaml"


@pytest.fixture(scope="module")
def gateway(
    module_upstream: running.Upstream,
    module_gateways: gateway_process.GatewayStarter,
    table_path: Path,
) -> Iterator[gateway_process.GatewayProcess]:
    gateway = module_gateways(
        {
            "auth": keys.write_table(table_path, *TABLE),
            "server": {"reloadCheckSeconds": 0.2},
            "providerPools": [
                pool("up", [provider("up", module_upstream, models=[model("m")])]),
                pool("mocked", [provider("mock", models=[model("other")])]),
            ],
        }
    )
    yield gateway
    assert gateway.process.poll() is None, "no refusal takes the process down"


def chat(gateway: gateway_process.GatewayProcess, key: str, model: str = "m") -> Any:
    return gateway.client(api_key=key).chat.completions.create(model=model, messages=ASK)


def envelope(response: httpx.Response) -> dict[str, Any]:
    """The OpenAI error envelope of a refusal, checked for shape."""
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    return dict(body["error"])


def refused(call: Callable[[], object]) -> tuple[int, dict[str, Any]]:
    with pytest.raises(openai.APIStatusError) as raised:
        call()
    return raised.value.status_code, envelope(raised.value.response)  # type: ignore[arg-type]


def test_missing_bad_expired_and_not_allowed(gateway: gateway_process.GatewayProcess) -> None:
    no_key = httpx.post(
        gateway.base_url + "/chat/completions", json={"model": "m", "messages": ASK}
    )
    missing = (no_key.status_code, envelope(no_key))
    bad = refused(lambda: chat(gateway, TEAM.plaintext[:-1] + "x"))
    expired = refused(lambda: chat(gateway, EXPIRED.plaintext))
    not_allowed = refused(lambda: chat(gateway, TEAM.plaintext, model="other"))
    statuses = [status for status, _ in (missing, bad, expired, not_allowed)]
    assert statuses == [401, 401, 403, 403]
    codes = [error["code"] for _, error in (missing, bad, expired, not_allowed)]
    assert codes == ["invalid_api_key", "invalid_api_key", "key_expired", "model_not_allowed"]
    assert {missing[1]["type"], bad[1]["type"]} == {"authentication_error"}
    assert {expired[1]["type"], not_allowed[1]["type"]} == {"permission_error"}
    assert not_allowed[1]["param"] == "model"
    assert no_key.headers["www-authenticate"] == "Bearer"
    # The SDK raises the matching exception types.
    with pytest.raises(openai.AuthenticationError):
        chat(gateway, DISABLED.plaintext)
    with pytest.raises(openai.PermissionDeniedError):
        chat(gateway, EXPIRED.plaintext)
    assert chat(gateway, TEAM.plaintext).choices[0].message.content


def test_x_api_key_is_accepted_like_bearer(gateway: gateway_process.GatewayProcess) -> None:
    response = httpx.post(
        gateway.base_url + "/chat/completions",
        headers={"x-api-key": EVERYTHING.plaintext},
        json={"model": "other", "messages": ASK},
    )
    assert response.status_code == 200, response.text
    bad = httpx.post(
        gateway.base_url + "/chat/completions",
        headers={"x-api-key": "rsk_" + "A" * 43},
        json={"model": "other", "messages": ASK},
    )
    assert bad.status_code == 401
    assert envelope(bad)["code"] == "invalid_api_key"


def test_disabled_keys_look_like_unknown_ones(gateway: gateway_process.GatewayProcess) -> None:
    _, disabled = refused(lambda: chat(gateway, DISABLED.plaintext))
    _, unknown = refused(lambda: chat(gateway, keys.key("nobody").plaintext))
    assert disabled == unknown


def test_the_model_list_shows_what_the_key_may_use(
    gateway: gateway_process.GatewayProcess,
) -> None:
    assert [m.id for m in gateway.client(api_key=TEAM.plaintext).models.list()] == ["m"]
    assert [m.id for m in gateway.client(api_key=EVERYTHING.plaintext).models.list()] == [
        "m",
        "other",
    ]
    with pytest.raises(openai.PermissionDeniedError):
        gateway.client(api_key=TEAM.plaintext).models.retrieve("other")
    with pytest.raises(openai.AuthenticationError):
        gateway.client(api_key=EXPIRED.plaintext.replace("rsk_", "sk-")).models.list()


def test_a_revoked_key_is_refused_within_seconds(
    gateway: gateway_process.GatewayProcess, table_path: Path
) -> None:
    pid = gateway.process.pid
    assert chat(gateway, REVOKED.plaintext).choices
    keys.write_table(table_path, *(k for k in TABLE if k is not REVOKED))
    try:

        def refused_now() -> bool:
            try:
                chat(gateway, REVOKED.plaintext)
            except openai.AuthenticationError:
                return True
            return False

        eventually(refused_now, timeout=15, what="the revoked key to be refused")
        assert gateway.process.poll() is None
        assert gateway.process.pid == pid, "no restart"
        assert chat(gateway, TEAM.plaintext).choices, "other keys keep working"
    finally:
        keys.write_table(table_path, *TABLE)
