"""Text extraction by file type: plain text and Markdown as they are, HTML without markup,
scripts and styles, JSON checked, PDF page by page; unsupported and broken files refused with
OpenAI's `last_error` codes."""

from __future__ import annotations

import pytest

from fixtures import pdfs
from runestone_gateway.retrieval import extract


@pytest.mark.parametrize("name", ["notes.txt", "README.md", "table.csv", "main.py", "NOTES.TXT"])
def test_text_files_are_read_as_utf8(name: str) -> None:
    assert extract.text(name, "\ufeffcafé, naïve\nrow 2".encode()) == "café, naïve\nrow 2"


def test_html_keeps_the_text_only() -> None:
    page = (
        b"<html><head><title>T</title><style>p {color: red}</style></head><body>"
        b"<h1>Heading</h1><p>First &amp; <b>bold</b> paragraph.</p>"
        b"<script>var secret = 1;</script><ul><li>one</li><li>two</li></ul></body></html>"
    )
    assert extract.text("page.html", page) == "Heading\nFirst & bold paragraph.\none\ntwo"


def test_json_is_checked_and_kept_as_written() -> None:
    assert extract.text("a.json", b'{"k": [1, 2]}') == '{"k": [1, 2]}'
    with pytest.raises(extract.Unreadable) as refused:
        extract.text("a.json", b'{"k": ')
    assert refused.value.code == "invalid_file"


def test_pdf_pages_are_extracted() -> None:
    data = pdfs.document("Glaciers carve fjords (slowly).", "Penguins live in the south.")
    assert extract.text("paper.pdf", data) == (
        "Glaciers carve fjords (slowly).\n\nPenguins live in the south."
    )


def test_a_broken_pdf_is_an_invalid_file() -> None:
    with pytest.raises(extract.Unreadable) as refused:
        extract.text("paper.pdf", pdfs.document("text")[:150])
    assert refused.value.code == "invalid_file"
    with pytest.raises(extract.Unreadable):
        extract.text("paper.pdf", b"not a pdf at all")


@pytest.mark.parametrize("name", ["image.png", "archive.zip", "noextension"])
def test_unsupported_types_are_named(name: str) -> None:
    with pytest.raises(extract.Unreadable) as refused:
        extract.text(name, b"\x89PNG....")
    assert refused.value.code == "unsupported_file"
    assert "not supported" in refused.value.message


def test_binary_in_a_text_file_and_empty_files_are_invalid() -> None:
    with pytest.raises(extract.Unreadable) as refused:
        extract.text("notes.txt", b"\xff\xfe\x00binary")
    assert refused.value.code == "invalid_file"
    with pytest.raises(extract.Unreadable) as empty:
        extract.text("notes.txt", b"  \n ")
    assert empty.value.code == "invalid_file"
