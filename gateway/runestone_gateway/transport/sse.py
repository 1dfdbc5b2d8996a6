"""Server-sent events, parsed only as far as the gateway needs: cut a byte stream into whole
events, read an event's name and data. Streams are relayed event by event, never buffered whole."""

from __future__ import annotations

DONE = b"[DONE]"


class EventSplitter:
    """Cuts arbitrary byte chunks into complete events, each ending in a blank line (`\\n\\n`).

    Line endings are normalised to `\\n` (the SSE format also allows `\\r\\n` and `\\r`)."""

    __slots__ = ("_buffer", "_skip_lf")

    def __init__(self) -> None:
        self._buffer = b""
        self._skip_lf = False

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._skip_lf and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the second half of a CRLF whose CR ended the previous chunk
        self._skip_lf = False
        if b"\r" in chunk:
            self._skip_lf = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buffer = self._buffer + chunk if self._buffer else chunk
        events: list[bytes] = []
        start = 0
        while True:
            end = buffer.find(b"\n\n", start)
            if end < 0:
                break
            event = buffer[start : end + 2]
            start = end + 2
            if event.strip(b"\n"):
                events.append(event.lstrip(b"\n"))
        self._buffer = buffer[start:]
        return events

    def rest(self) -> bytes:
        """Bytes of an event the stream never finished (non-empty means it was cut short)."""
        return self._buffer.strip(b"\r\n")


def parse(event: bytes) -> tuple[str | None, bytes]:
    """The event's name (None if unnamed) and its data lines joined by `\\n`."""
    name: str | None = None
    data: list[bytes] = []
    for line in event.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        field, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value.decode("utf-8", "replace")
    return name, b"\n".join(data)


def data_event(payload: bytes) -> bytes:
    """One unnamed event carrying `payload` (which must not contain newlines, as JSON does not)."""
    return b"data: " + payload + b"\n\n"


DONE_EVENT = data_event(DONE)
