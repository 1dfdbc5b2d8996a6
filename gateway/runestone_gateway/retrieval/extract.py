"""The text of an uploaded file, by its name's extension: plain text and source files, Markdown,
CSV and JSON as they are (UTF-8), HTML without its tags, scripts and styles, PDF page by page
(pypdf). Pure: bytes in, text out. A file that cannot be read raises `Unreadable` with OpenAI's
`last_error` code: `unsupported_file` for a type not served, `invalid_file` for a broken one."""

from __future__ import annotations

import html.parser
import io
import json
import logging
from typing import Literal

TEXT_EXTENSIONS = frozenset(
    {
        "txt", "md", "markdown", "csv", "tsv", "json", "jsonl", "log", "rst", "tex", "xml",
        "yaml", "yml", "c", "cc", "cpp", "cs", "css", "go", "java", "js", "ts", "php", "py",
        "rb", "rs", "sh",
    }
)  # fmt: skip
HTML_EXTENSIONS = frozenset({"html", "htm"})
PDF_EXTENSIONS = frozenset({"pdf"})
SUPPORTED = TEXT_EXTENSIONS | HTML_EXTENSIONS | PDF_EXTENSIONS

Code = Literal["unsupported_file", "invalid_file"]


class Unreadable(Exception):
    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code: Code = code
        self.message = message


def extension(filename: str) -> str:
    _, dot, ext = filename.rpartition(".")
    return ext.lower() if dot else ""


def text(filename: str, data: bytes) -> str:
    ext = extension(filename)
    if ext not in SUPPORTED:
        served = ", ".join(sorted(SUPPORTED))
        raise Unreadable(
            "unsupported_file",
            f"Files of type {ext or '(none)'!r} are not supported; supported: {served}.",
        )
    if ext in PDF_EXTENSIONS:
        found = _pdf(data)
    else:
        decoded = _utf8(data)
        if ext == "json":
            _check_json(decoded)
        found = _html(decoded) if ext in HTML_EXTENSIONS else decoded
    if not found.strip():
        raise Unreadable("invalid_file", "The file has no text to index.")
    return found


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Unreadable(
            "invalid_file", f"The file is not UTF-8 text (byte {error.start})."
        ) from None


def _check_json(decoded: str) -> None:
    try:
        json.loads(decoded)
    except ValueError as error:
        raise Unreadable("invalid_file", f"The file is not valid JSON: {error}.") from None


def _pdf(data: bytes) -> str:
    # pypdf is imported only when a PDF arrives (it is slow to import), and it logs warnings
    # about damaged files that say nothing the file's last_error does not.
    import pypdf

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as error:  # pypdf raises many kinds for a damaged file
        raise Unreadable(
            "invalid_file", f"The PDF cannot be read: {type(error).__name__}."
        ) from None
    return "\n\n".join(pages)


class _Text(html.parser.HTMLParser):
    SKIPPED = frozenset({"script", "style", "head", "template", "noscript"})
    BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _html(decoded: str) -> str:
    parser = _Text()
    parser.feed(decoded)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)
