"""What one hop between two processes over loopback TCP costs on this machine, with the reader
busy and with the reader asleep: the floor under every added-latency figure at c=1.

    .venv/bin/python bench/loopback_wakeup.py [--messages 3000] [--pause-ms 3]

An echo server in a child process (uvloop), and a client that sends 300 bytes and waits for the
echo, back to back and then with a pause before each message (as a gateway at c=1 sees: a
request, then milliseconds of nothing). It times the `write` call itself (on Linux the sender's
syscall also does the receiver's TCP work and wakes it) and the round trip."""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time

import uvloop

import procstats

PAYLOAD = b"x" * 300


class _Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._transport.write(data)


async def _serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Echo, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


class _Client(asyncio.Protocol):
    def __init__(self) -> None:
        self.answer: asyncio.Future[None] | None = None

    def data_received(self, data: bytes) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_result(None)


async def _measure(port: int, messages: int, pause: float) -> tuple[list[float], list[float]]:
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_connection(_Client, "127.0.0.1", port)
    transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    writes, trips = [], []
    for _ in range(messages):
        if pause:
            await asyncio.sleep(pause)
        client.answer = loop.create_future()
        started = time.perf_counter()
        transport.write(PAYLOAD)
        written = time.perf_counter()
        await client.answer
        writes.append(written - started)
        trips.append(time.perf_counter() - started)
    transport.close()
    return writes, trips


def _us(values: list[float], q: float) -> str:
    return f"{procstats.percentile(values, q) * 1e6:6.1f}"


async def _main(options: argparse.Namespace, port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    print(f"command: {procstats.command_line()}")
    print(f"load average: {procstats.load_average()}")
    print("microseconds         write p50  p90 | round trip p50  p90")
    pauses = (("back to back", 0.0), (f"after {options.pause_ms} ms", options.pause_ms / 1000))
    for label, pause in pauses:
        writes, trips = await _measure(port, options.messages, pause)
        print(
            f"  {label:<18} {_us(writes, 50)} {_us(writes, 90)} |       "
            f"{_us(trips, 50)} {_us(trips, 90)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--pause-ms", type=float, default=3.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        uvloop.run(_serve(options.serve))
        return
    port = procstats.free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        uvloop.run(_main(options, port))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
