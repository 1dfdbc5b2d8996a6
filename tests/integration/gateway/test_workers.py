"""`--workers N`: several processes serve the API and health ports, each worker on an API socket
of its own among which the kernel spreads connections, and /metrics from any of them reports the
requests all of them served."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai

from fixtures.upstreams import gateway_process, running
from fixtures.upstreams.gateway_process import eventually, model, pool, provider

Starter = Callable[..., gateway_process.GatewayProcess]
ASK: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
REQUESTS = 20


def test_workers_share_ports_and_metrics(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    gateway = start_gateway(
        {"providerPools": [pool("p", [provider("up", openai_upstream, models=[model("m")])])]},
        args=("--workers", "2"),
    )
    for _ in range(REQUESTS):
        # A new client per request: new connections spread over the workers.
        with gateway.client() as client:
            client.chat.completions.create(model="m", messages=ASK)
    assert len(openai_upstream.record.posts()) == REQUESTS
    # Each worker counts itself; the sum proves one scrape reads every worker's values.
    eventually(
        lambda: gateway.metric("runestone_gateway_workers") == 2, what="both workers in the metrics"
    )
    eventually(
        lambda: gateway.metric("runestone_gateway_requests_total", status_code="200") == REQUESTS,
        what="metrics summed over the workers",
    )
    gateway.process.send_signal(signal.SIGTERM)
    assert gateway.process.wait(60) == 0


def worker_pids(gateway: gateway_process.GatewayProcess) -> list[int]:
    pid = gateway.process.pid
    workers = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue  # a killed worker reaped since the listing
        if b"spawn_main" in command:
            workers.append(int(child))
    return workers


def _sockets(pid: int) -> set[int]:
    """The inodes of the sockets process `pid` holds."""
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            found.add(int(target[len("socket:[") : -1]))
    return found


def _tcp(port: int, state: str) -> set[int]:
    """The inodes of this host's IPv4 TCP sockets on local `port` in `state` (/proc/net/tcp:
    01 established, 0A listening)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            found.add(int(fields[9]))
    return found


def test_each_worker_listens_on_its_own_socket_and_connections_spread(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    """64 keep-alive connections opened at once, as a client's pool does: each worker accepts a
    share of them on a listening socket of its own. (On one shared socket whichever worker wakes
    first takes the burst: 46 of 64 was seen.) The kernel splits by a hash, as a fair coin
    would; under 12 of 64 on either side is a chance of one in ten million."""
    gateway = start_gateway(
        {"providerPools": [pool("p", [provider("up", openai_upstream, models=[model("m")])])]},
        args=("--workers", "2"),
    )
    eventually(lambda: len(worker_pids(gateway)) == 2, what="two workers")
    workers = worker_pids(gateway)
    listening = _tcp(gateway.port, "0A")
    owned = {pid: _sockets(pid) & listening for pid in workers}
    assert all(len(inodes) == 1 for inodes in owned.values()), owned
    assert len(set.union(*owned.values())) == 2, f"the workers share a listening socket: {owned}"

    request = (
        f"GET /v1/models HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        f"authorization: Bearer {gateway.api_key}\r\n\r\n"
    ).encode()
    clients = [socket.create_connection(("127.0.0.1", gateway.port), timeout=30) for _ in range(64)]
    try:
        for client in clients:
            client.sendall(request)
        for client in clients:  # answered: accepted by a worker
            assert client.recv(12, socket.MSG_WAITALL) == b"HTTP/1.1 200"
        established = _tcp(gateway.port, "01")
        shares = Counter({pid: len(_sockets(pid) & established) for pid in workers})
    finally:
        for client in clients:
            client.close()
    assert sum(shares.values()) == 64, shares
    assert min(shares.values()) >= 12, shares


def test_a_dead_worker_is_replaced(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    gateway = start_gateway(
        {"providerPools": [pool("p", [provider("up", openai_upstream, models=[model("m")])])]},
        args=("--workers", "2"),
    )
    eventually(lambda: len(worker_pids(gateway)) == 2, what="two workers")
    victim = worker_pids(gateway)[0]
    os.kill(victim, signal.SIGKILL)

    # Connections the kernel hands the dead worker's socket wait for its replacement; none is
    # refused or lost.
    def ask(_: int) -> str:
        with gateway.client() as client:
            answer = client.chat.completions.create(model="m", messages=ASK)
        return answer.choices[0].message.content or ""

    with ThreadPoolExecutor(8) as pool_of_clients:
        answers = list(pool_of_clients.map(ask, range(16)))
    assert len(answers) == 16
    assert all(answers)
    eventually(
        lambda: len(pids := worker_pids(gateway)) == 2 and victim not in pids,
        what="the killed worker to be replaced",
    )
    eventually(lambda: gateway.metric("runestone_gateway_workers") == 2, what="two live workers")
    for _ in range(5):
        with gateway.client() as client:
            client.chat.completions.create(model="m", messages=ASK)


def test_a_second_gateway_on_a_serving_port_does_not_start(
    openai_upstream: running.Upstream, start_gateway: Starter
) -> None:
    """The workers' sockets join each other only: a second gateway given the port of one already
    serving with workers is refused, with workers or without, instead of taking a share of its
    connections."""
    gateway = start_gateway(
        {"providerPools": [pool("p", [provider("up", openai_upstream, models=[model("m")])])]},
        args=("--workers", "2"),
    )
    for workers in ("2", "1"):
        second = subprocess.run(
            [
                *(str(gateway_process.RUNESTONE), "gateway", "--port", str(gateway.port)),
                *("--health-port", str(running.free_port()), "--workers", workers),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 2, second.stderr
        assert "cannot listen" in second.stderr
        assert "in use" in second.stderr
    with gateway.client() as client:
        assert client.chat.completions.create(model="m", messages=ASK).choices
