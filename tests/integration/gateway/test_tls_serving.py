"""HTTPS on the API port when the config names a certificate: the official SDK connects with the
CA that signed it, the health port stays plain HTTP for probes, and a rotated certificate is
served to new connections without a restart."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
from pathlib import Path

import httpx
import openai
import pytest

from devcluster import pki
from fixtures.upstreams import gateway_process, running
from fixtures.upstreams.gateway_process import eventually, model, pool, provider

ASK: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def install(pair: Path, serving: Path) -> None:
    """Copy a certificate and its key into the served files, each replaced atomically."""
    for source, target in (("apiserver.crt", "tls.crt"), ("apiserver.key", "tls.key")):
        staging = serving / f".{target}.new"
        shutil.copyfile(pair / source, staging)
        os.replace(staging, serving / target)


def https_client(gateway: gateway_process.GatewayProcess, ca: Path) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"https://127.0.0.1:{gateway.port}/v1",
        api_key=gateway.api_key,
        max_retries=0,
        http_client=openai.DefaultHttpxClient(verify=ssl.create_default_context(cafile=ca)),
    )


def trusted(gateway: gateway_process.GatewayProcess, ca: Path) -> bool:
    """Whether a new connection verifies against `ca` (and then lists the models)."""
    with https_client(gateway, ca) as client:
        try:
            client.models.list()
        except openai.APIConnectionError:
            return False
    return True


def test_the_sdk_connects_over_https_and_rotation_needs_no_restart(
    start_gateway: gateway_process.GatewayStarter,
    openai_upstream: running.Upstream,
    tmp_path: Path,
) -> None:
    first, second = pki.ensure(tmp_path / "first"), pki.ensure(tmp_path / "second")
    serving = tmp_path / "serving"
    serving.mkdir()
    install(first, serving)
    gateway = start_gateway(
        {
            "server": {
                "reloadCheckSeconds": 0.2,
                "tls": {"certFile": str(serving / "tls.crt"), "keyFile": str(serving / "tls.key")},
            },
            "providerPools": [pool("p", [provider("up", openai_upstream, models=[model("m")])])],
        }
    )
    pid = gateway.process.pid
    with https_client(gateway, first / "ca.crt") as client:
        answer = client.chat.completions.create(model="m", messages=ASK)
    assert answer.choices[0].message.content == openai_upstream.behaviour.text
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{gateway.port}/v1/models", timeout=5)
    assert gateway.health("/readyz").status_code == 200  # probes stay plain HTTP
    assert not trusted(gateway, second / "ca.crt")

    install(second, serving)
    eventually(
        lambda: trusted(gateway, second / "ca.crt"), what="the rotated certificate to be served"
    )
    assert not trusted(gateway, first / "ca.crt")
    assert gateway.process.pid == pid
    assert gateway.process.poll() is None


def test_idle_https_clients_do_not_hold_up_shutdown(
    start_gateway: gateway_process.GatewayStarter,
    openai_upstream: running.Upstream,
    tmp_path: Path,
) -> None:
    pair = pki.ensure(tmp_path / "pair")
    tls = {"certFile": str(pair / "apiserver.crt"), "keyFile": str(pair / "apiserver.key")}
    gateway = start_gateway(
        {
            "server": {"tls": tls, "gracefulShutdownSeconds": 120},
            "providerPools": [pool("p", [provider("up", openai_upstream, models=[model("m")])])],
        }
    )
    with https_client(gateway, pair / "ca.crt") as idle:
        idle.models.list()  # leaves a pooled keep-alive connection open, never closed by us
        gateway.process.send_signal(signal.SIGTERM)
        # Without dropping it the server would wait for the client's TLS close_notify (30 s).
        eventually(
            lambda: gateway.process.poll() is not None, timeout=25, what="the gateway to exit"
        )
    assert gateway.process.returncode == 0


def test_a_certificate_that_does_not_load_is_refused_at_start(
    start_gateway: gateway_process.GatewayStarter,
    openai_upstream: running.Upstream,
    tmp_path: Path,
) -> None:
    pair = pki.ensure(tmp_path / "pair")
    other = pki.ensure(tmp_path / "other")
    document = {
        "server": {
            "tls": {"certFile": str(pair / "apiserver.crt"), "keyFile": str(other / "ca.key")}
        },
        "providerPools": [pool("p", [provider("up", openai_upstream, models=[model("m")])])],
    }
    gateway = start_gateway(document, wait_ready=False)
    assert gateway.process.wait(60) == 2
    assert "cannot load the certificate" in gateway.stderr()
    assert "PRIVATE KEY" not in gateway.stderr()
