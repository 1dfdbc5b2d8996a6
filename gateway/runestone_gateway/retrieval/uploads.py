"""An upload's multipart body read as it arrives (python-multipart's streaming parser): the
file's bytes are handed on in pieces while the rest of the body is still on its way, so an
upload is never whole in memory nor spooled to disk. Small fields (`purpose`) are kept, up to a
bound."""

from __future__ import annotations

from collections.abc import AsyncIterator

from python_multipart import exceptions, multipart

from runestone_gateway import errors

FILE_FIELD = "file"
MAX_FIELD_BYTES = 4096


class Form:
    """`read(size)` gives the file's next bytes (b"" at its end); then `fields` and
    `filename` hold what the form said."""

    def __init__(self, content_type: str | None, body: AsyncIterator[bytes]) -> None:
        kind, options = multipart.parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise errors.malformed("An upload must be multipart/form-data with a boundary.")
        self._body = body
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self._pending = bytearray()
        self._ended = False
        self._header = b""
        self._value = b""
        self._disposition: dict[bytes, bytes] = {}
        self._field = b""
        self._name = ""
        self._in_file = False
        self._parser = multipart.MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    async def read(self, size: int) -> bytes:
        while len(self._pending) < size and not self._ended:
            try:
                chunk = await anext(self._body)
            except StopAsyncIteration:
                self._ended = True
                self._finish()
                break
            try:
                self._parser.write(chunk)
            except exceptions.MultipartParseError:
                raise errors.malformed("The multipart body cannot be parsed.") from None
        piece = bytes(self._pending[:size])
        del self._pending[:size]
        return piece

    def _finish(self) -> None:
        try:
            self._parser.finalize()
        except exceptions.MultipartParseError:
            raise errors.malformed("The multipart body ends early.") from None
        if self.filename is None:
            raise errors.malformed("The upload has no 'file' field.", param="file")

    def _part_begin(self) -> None:
        self._disposition = {}
        self._field = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            _, self._disposition = multipart.parse_options_header(self._value)
        self._header = self._value = b""

    def _headers_finished(self) -> None:
        name = self._disposition.get(b"name", b"").decode("utf-8", "replace")
        self._in_file = name == FILE_FIELD
        if self._in_file:
            self.filename = self._disposition.get(b"filename", b"").decode("utf-8", "replace")
        self._name = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._pending += data[start:end]
            return
        self._field += data[start:end]
        if len(self._field) > MAX_FIELD_BYTES:
            raise errors.malformed(f"The form field {self._name!r} is too long.", param=self._name)

    def _part_end(self) -> None:
        if not self._in_file:
            self.fields[self._name] = self._field.decode("utf-8", "replace")
        self._in_file = False
