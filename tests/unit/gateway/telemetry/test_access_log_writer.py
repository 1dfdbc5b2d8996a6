"""The access-log writer: every queued line arrives whole, in order, and what is queued when it
closes is still written."""

from __future__ import annotations

import json
import os
import threading

from runestone_gateway.telemetry import accesslog


def test_lines_arrive_whole_and_in_order() -> None:
    read_end, write_end = os.pipe()
    received = bytearray()

    def drain() -> None:
        while chunk := os.read(read_end, 65536):
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    writer = accesslog.Writer(write_end)
    for index in range(3000):
        exchange = accesslog.Exchange("POST", "/v1/chat/completions", f"id-{index}")
        exchange.prompt = "x" * (index % 50) * 100  # some lines longer than a pipe's atomic write
        writer.write(exchange, 0.001)
    writer.close()
    os.close(write_end)
    reader.join(10)
    os.close(read_end)
    lines = [json.loads(line) for line in received.decode().splitlines()]
    assert [line["request_id"] for line in lines] == [f"id-{index}" for index in range(3000)]
    assert all(line["duration_ms"] == 1.0 for line in lines)
