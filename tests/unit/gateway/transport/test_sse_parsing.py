"""Cutting byte streams into server-sent events, however the bytes are split."""

from __future__ import annotations

import pytest

from runestone_gateway.transport import sse

STREAM = (
    b'event: message_start\ndata: {"a": 1}\n\n'
    b": a comment\n\n"
    b"data: first line\ndata: second line\n\n"
    b"data: [DONE]\n\n"
)
EVENTS = [
    b'event: message_start\ndata: {"a": 1}\n\n',
    b": a comment\n\n",
    b"data: first line\ndata: second line\n\n",
    b"data: [DONE]\n\n",
]


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_any_split_yields_the_same_events(size: int) -> None:
    splitter = sse.EventSplitter()
    events = [event for chunk in split_every(STREAM, size) for event in splitter.feed(chunk)]
    assert events == EVENTS
    assert splitter.rest() == b""


@pytest.mark.parametrize("size", [1, 2, 5, 1000])
def test_crlf_and_cr_line_endings_are_normalised(size: int) -> None:
    crlf = STREAM.replace(b"\n", b"\r\n")
    splitter = sse.EventSplitter()
    assert [e for c in split_every(crlf, size) for e in splitter.feed(c)] == EVENTS
    cr = STREAM.replace(b"\n", b"\r")
    splitter = sse.EventSplitter()
    assert [e for c in split_every(cr, size) for e in splitter.feed(c)] == EVENTS


def test_an_unfinished_event_stays_in_the_buffer() -> None:
    splitter = sse.EventSplitter()
    assert splitter.feed(b"data: one\n\ndata: tw") == [b"data: one\n\n"]
    assert splitter.rest() == b"data: tw"
    assert splitter.feed(b"o\n\n") == [b"data: two\n\n"]


def test_parse_reads_name_and_joined_data() -> None:
    assert sse.parse(EVENTS[0]) == ("message_start", b'{"a": 1}')
    assert sse.parse(EVENTS[1]) == (None, b"")
    assert sse.parse(EVENTS[2]) == (None, b"first line\nsecond line")
    assert sse.parse(b"data:no-space\n\n") == (None, b"no-space")


def test_data_event_round_trips() -> None:
    assert sse.parse(sse.data_event(b'{"x":1}')) == (None, b'{"x":1}')
    assert sse.parse(sse.DONE_EVENT)[1] == sse.DONE
