"""Redis killed while gateways serve: failMode open keeps serving without limits, failMode closed
refuses limited keys with 503; both count and log it (a few lines, not one per request), neither
crashes, and the limits apply again once Redis is back."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import openai
import pytest

from devcluster.redis import RedisServer
from fixtures.upstreams import gateway_process, keys, running
from fixtures.upstreams.gateway_process import eventually, model, pool, provider

ASK: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
RPM = 3
LIMITED = keys.key("limited", limits={"requestsPerMinute": RPM})
STEADY = keys.key("steady", limits={"requestsPerMinute": 100_000, "maxConcurrentRequests": 50})
FAILURES = "runestone_gateway_limit_store_failures_total"
LOGGED = "rate-limit store failed"


@pytest.fixture(scope="module")
def gateways(
    redis_server: RedisServer,
    module_upstream: running.Upstream,
    module_gateways: gateway_process.GatewayStarter,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, gateway_process.GatewayProcess]]:
    table = tmp_path_factory.mktemp("keys") / "keys.yaml"
    auth = keys.write_table(table, LIMITED, STEADY)

    def start(fail_mode: str) -> gateway_process.GatewayProcess:
        return module_gateways(
            {
                "auth": auth,
                "limits": {
                    "store": {"type": "redis", "url": redis_server.url, "failMode": fail_mode}
                },
                "providerPools": [
                    pool("p", [provider("up", module_upstream, models=[model("m")])])
                ],
            }
        )

    started = {"open": start("open"), "closed": start("closed")}
    yield started
    for gateway in started.values():
        assert gateway.process.poll() is None, "a Redis outage never takes a gateway down"
        assert gateway.health("/livez").status_code == 200


def status(gateway: gateway_process.GatewayProcess, key: keys.Key) -> tuple[int, dict[str, str]]:
    try:
        raw = gateway.client(api_key=key.plaintext).chat.completions.with_raw_response.create(
            model="m", messages=ASK
        )
    except openai.APIStatusError as error:
        return error.status_code, dict(error.response.headers)
    return raw.status_code, dict(raw.headers)


class Traffic:
    """Requests sent one after another from a thread, for as long as the test runs."""

    def __init__(self, gateway: gateway_process.GatewayProcess, key: keys.Key) -> None:
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(gateway, key), daemon=True)
        self._thread.start()

    def _run(self, gateway: gateway_process.GatewayProcess, key: keys.Key) -> None:
        while not self._stop.is_set():
            self.statuses.append(status(gateway, key)[0])

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join(60)
        return self.statuses


def test_fail_modes_while_redis_is_down_and_limits_when_it_is_back(
    gateways: dict[str, gateway_process.GatewayProcess], redis_server: RedisServer
) -> None:
    opened, closed = gateways["open"], gateways["closed"]
    redis_server.flush()
    assert status(closed, LIMITED)[0] == 200
    traffic = Traffic(opened, STEADY)
    eventually(lambda: len(traffic.statuses) >= 5, what="traffic before the outage")

    redis_server.kill()
    served = [status(opened, LIMITED) for _ in range(RPM + 3)]
    assert [code for code, _ in served] == [200] * (RPM + 3), "failMode open serves, unlimited"
    assert not [name for _, headers in served for name in headers if "ratelimit" in name]
    code, headers = status(closed, LIMITED)
    assert code == 503
    assert headers["retry-after"] == "1"
    with pytest.raises(openai.InternalServerError) as raised:
        closed.client(api_key=LIMITED.plaintext).chat.completions.create(model="m", messages=ASK)
    assert raised.value.code == "rate_limit_store_unavailable"
    eventually(lambda: opened.metric(FAILURES, fail_mode="open") >= 1, what="counted (open)")
    assert closed.metric(FAILURES, fail_mode="closed") >= 1
    assert (
        closed.metric(
            "runestone_gateway_limit_rejections_total",
            runestone_key_id="limited",
            limit="store_unavailable",
        )
        >= 2
    )
    during = len(traffic.statuses)

    redis_server.start()  # same port, empty

    def limits_apply_again() -> bool:
        return "x-ratelimit-remaining-requests" in status(opened, LIMITED)[1]

    eventually(limits_apply_again, what="the open gateway to use Redis again")
    codes = [status(opened, LIMITED)[0] for _ in range(RPM)]
    assert codes == [200] * (RPM - 1) + [429], "the limit is counted in Redis again"
    eventually(lambda: status(closed, STEADY)[0] == 200, what="the closed gateway to serve again")

    statuses = traffic.stop()
    assert len(statuses) > during, "traffic kept flowing through the outage"
    assert set(statuses) == {200}, "failMode open: no request failed while Redis was down"
    for gateway in (opened, closed):
        lines = [line for line in gateway.stderr().splitlines() if LOGGED in line]
        assert 1 <= len(lines) <= 5, "failures are logged, but not once per request"
        assert redis_server.url not in gateway.stderr()
