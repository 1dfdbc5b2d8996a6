"""The access-log writers: every line arrives whole and in order, whatever stdout is (a pipe, a
regular file, a socket); what is gathered when the writer closes is still written; and a reader
that stops never stalls the event loop: lines wait for it, bounded, and what cannot wait is
dropped and said so."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runestone_gateway.telemetry import accesslog

LINES = 3000
pytestmark = pytest.mark.timeout(30)  # a writer that blocks on a stopped reader hangs the test


def exchange(index: int, prompt_size: int = 0) -> accesslog.Exchange:
    one = accesslog.Exchange("POST", "/v1/chat/completions", f"id-{index}")
    if prompt_size:
        one.prompt = "x" * prompt_size
    return one


def ids(data: bytes) -> list[str]:
    return [json.loads(line)["request_id"] for line in data.decode().splitlines()]


class Drain:
    """Reads a pipe's or socket's read end on a thread, once started."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.received = bytearray()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while chunk := os.read(self.fd, 65536):
            self.received.extend(chunk)

    def finish(self) -> bytes:
        self.thread.join(10)
        assert not self.thread.is_alive()
        return bytes(self.received)


async def write_lines(writer: accesslog.Writer, count: int) -> None:
    """Lines as requests write them, some longer than a pipe's atomic write, with the loop
    turning between them."""
    for index in range(count):
        writer.write(exchange(index, (index % 50) * 100), 0.001)
        if index % 100 == 0:
            await asyncio.sleep(0)


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):  # closed by the test
            os.close(fd)


def test_a_pipe_is_written_from_the_loop_on_a_description_of_its_own(
    pipe: tuple[int, int],
) -> None:
    read_end, write_end = pipe
    drain = Drain(read_end)
    drain.thread.start()

    async def main() -> None:
        writer = accesslog.open_writer(write_end, asyncio.get_running_loop())
        assert isinstance(writer, accesslog.LoopWriter)
        await write_lines(writer, LINES)
        writer.close()

    asyncio.run(main())
    # The process's own stdout description stays blocking for everything else that writes it.
    assert not fcntl.fcntl(write_end, fcntl.F_GETFL) & os.O_NONBLOCK
    os.close(write_end)
    assert ids(drain.finish()) == [f"id-{index}" for index in range(LINES)]


def test_a_regular_file_is_written_from_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "stdout"

    async def main() -> None:
        with path.open("wb") as out:
            writer = accesslog.open_writer(out.fileno(), asyncio.get_running_loop())
            assert isinstance(writer, accesslog.LoopWriter)
            await write_lines(writer, LINES)
            writer.close()

    asyncio.run(main())
    assert ids(path.read_bytes()) == [f"id-{index}" for index in range(LINES)]


def test_a_socket_is_written_from_a_thread() -> None:
    theirs, ours = socket.socketpair()
    drain = Drain(theirs.fileno())
    drain.thread.start()

    async def main() -> None:
        writer = accesslog.open_writer(ours.fileno(), asyncio.get_running_loop())
        assert isinstance(writer, accesslog.ThreadWriter)
        await write_lines(writer, LINES)
        writer.close()

    asyncio.run(main())
    ours.close()
    assert ids(drain.finish()) == [f"id-{index}" for index in range(LINES)]
    theirs.close()


def loop_stalls(writes: Callable[[], None]) -> float:
    """The longest the loop went without turning while `writes` ran in it, in seconds."""

    async def main() -> float:
        longest = 0.0
        done = False

        async def ticker() -> None:
            nonlocal longest
            last = time.perf_counter()
            while not done:
                await asyncio.sleep(0.001)
                now = time.perf_counter()
                longest = max(longest, now - last)
                last = now

        ticking = asyncio.create_task(ticker())
        await asyncio.sleep(0.01)
        writes()
        await asyncio.sleep(0.2)  # the flushes run, and find the pipe full
        done = True
        await ticking
        return longest

    return asyncio.run(main())


def test_a_reader_that_stops_holds_up_neither_the_loop_nor_any_line(
    pipe: tuple[int, int],
) -> None:
    read_end, write_end = pipe
    writers: list[accesslog.Writer] = []
    count = 2000  # about 0.5 MB of lines: several times what the pipe holds

    def writes() -> None:
        writer = accesslog.open_writer(write_end, asyncio.get_running_loop())
        writers.append(writer)
        for index in range(count):
            writer.write(exchange(index, 100), 0.001)

    longest = loop_stalls(writes)
    assert longest < 1.0, "the loop waited on the pipe's reader"
    (writer,) = writers
    assert isinstance(writer, accesslog.LoopWriter)
    drain = Drain(read_end)
    drain.thread.start()
    writer.close()  # writes the rest as the reader takes it
    os.close(write_end)
    assert ids(drain.finish()) == [f"id-{index}" for index in range(count)]


def test_beyond_its_bound_lines_are_dropped_and_said_so(
    pipe: tuple[int, int], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_end, write_end = pipe
    monkeypatch.setattr(accesslog.LoopWriter, "MAX_PENDING", 200_000)
    monkeypatch.setattr(accesslog, "CLOSE_SECONDS", 0.3)
    caplog.set_level(logging.WARNING, logger=accesslog.log.name)
    writers: list[accesslog.LoopWriter] = []
    count = 4000  # about 1 MB of lines: the pipe's 64 KiB and the bound's 200 kB fill

    def writes() -> None:
        writer = accesslog.open_writer(write_end, asyncio.get_running_loop())
        assert isinstance(writer, accesslog.LoopWriter)
        writers.append(writer)
        for index in range(count):
            writer.write(exchange(index, 100), 0.001)
            assert writer.pending_bytes <= 200_000

    loop_stalls(writes)
    (writer,) = writers
    assert "the access log's reader is not keeping up" in caplog.text
    started = time.monotonic()
    writer.close()  # nobody reads: gives up after CLOSE_SECONDS, and says how many it dropped
    assert time.monotonic() - started < 2.0
    assert writer.pending_bytes == 0
    os.close(write_end)
    drain = Drain(read_end)
    drain.thread.start()
    received = ids(drain.finish())
    # What the pipe held arrived whole and in order; what did not fit was dropped, and every
    # drop was counted in a warning.
    assert received == [f"id-{index}" for index in range(len(received))]
    dropped = sum(
        int(record.getMessage().rsplit(": ", 1)[1].split()[0])
        for record in caplog.records
        if "lines dropped" in record.getMessage()
    )
    assert len(received) + dropped == count


def test_a_write_that_fails_drops_its_lines_with_a_warning(
    pipe: tuple[int, int], caplog: pytest.LogCaptureFixture
) -> None:
    read_end, write_end = pipe
    caplog.set_level(logging.WARNING, logger=accesslog.log.name)

    async def main() -> accesslog.Writer:
        writer = accesslog.open_writer(write_end, asyncio.get_running_loop())
        os.close(read_end)  # the reader is gone: every write fails with EPIPE
        await write_lines(writer, 100)
        await asyncio.sleep(accesslog.FLUSH_SECONDS * 3)
        writer.close()
        return writer

    writer = asyncio.run(main())
    assert isinstance(writer, accesslog.LoopWriter)
    assert writer.pending_bytes == 0
    assert "cannot write the access log: " in caplog.text


def test_a_closed_stdout_costs_lines_not_the_gateway(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=accesslog.log.name)
    closed = 1000  # far above what the test's own files and the loop take
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(closed)

    async def main() -> None:
        writer = accesslog.open_writer(closed, asyncio.get_running_loop())
        await write_lines(writer, 10)
        writer.close()

    asyncio.run(main())
    assert "cannot write the access log" in caplog.text
