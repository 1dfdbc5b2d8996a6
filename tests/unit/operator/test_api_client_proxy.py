"""The operator's API client takes the environment's proxy for the API server once, at start,
instead of aiohttp looking up a proxy and a .netrc entry on a worker thread for every request:
a proxy set in the environment is still used, one that NO_PROXY excludes is not."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp.web
import pytest
from kubernetes_asyncio import client as k8s

from runestone_operator.core import kube

API_SERVER = "http://api.cluster.invalid:6443"


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """A forward proxy on loopback that answers every request itself, noting its target."""
    seen: list[str] = []

    async def answer(request: aiohttp.web.Request) -> aiohttp.web.Response:
        seen.append(str(request.url))
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "main"}}
        return aiohttp.web.json_response(body)

    app = aiohttp.web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = aiohttp.web.AppRunner(app, access_log=None)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def _configuration() -> k8s.Configuration:
    configuration = k8s.Configuration()
    configuration.host = API_SERVER
    return configuration


async def test_the_environments_proxy_is_used_without_per_request_lookups(
    proxy: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    address, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", address)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    api = kube.api_client(_configuration())
    try:
        assert api.rest_client.pool_manager.trust_env is False
        connection = kube.Kube(api, "runestone-operator")
        found = await connection.get("v1", "ConfigMap", "team", "main")
    finally:
        await api.close()
    assert found is not None
    assert found["metadata"]["name"] == "main"
    assert seen == [f"{API_SERVER}/api/v1/namespaces/team/configmaps/main"]


async def test_no_proxy_excludes_the_api_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", ".cluster.invalid")
    api = kube.api_client(_configuration())
    try:
        assert api.configuration.proxy is None
        assert api.rest_client.pool_manager.trust_env is False
    finally:
        await api.close()


async def test_without_a_proxy_in_the_environment_none_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    api = kube.api_client(_configuration())
    try:
        assert api.configuration.proxy is None
    finally:
        await api.close()
