"""Cutting text into chunks of at most N tokens that overlap by M, as OpenAI's static chunking
strategy does. Pure: no I/O.

Tokens are the pieces of a GPT-style pre-tokenization (a word with its leading space, groups of
up to three digits, runs of punctuation, runs of white space), counted by a regular expression:
no vocabulary file is needed, so nothing is downloaded at run time. For English prose it counts
close to cl100k (a little under it: a rare long word is one piece here, several tokens there).
Joining a chunk's pieces gives back its text exactly, so chunks quote the file verbatim."""

from __future__ import annotations

import re

from runestone_gateway import config

_PIECE = re.compile(
    r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d{1,3}| ?[^\s\w]+|\s+(?!\S)|\s+|_+""",
    re.IGNORECASE,
)


def tokens(text: str) -> list[str]:
    """The text's pieces; `"".join(tokens(text)) == text`."""
    found: list[str] = _PIECE.findall(text)
    return found


def count(text: str) -> int:
    return len(_PIECE.findall(text))


def chunks(text: str, strategy: config.Chunking) -> list[str]:
    """Windows of `maxChunkSizeTokens` pieces, each starting `chunkOverlapTokens` pieces
    before the previous one ended; windows of white space only are dropped."""
    pieces = tokens(text)
    size = strategy.max_chunk_size_tokens
    step = size - strategy.chunk_overlap_tokens
    found: list[str] = []
    start = 0
    while start < len(pieces):
        window = "".join(pieces[start : start + size])
        if window.strip():
            found.append(window)
        if start + size >= len(pieces):
            break
        start += step
    return found
