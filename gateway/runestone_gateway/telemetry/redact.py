"""Keys out of logs: key-shaped tokens in a request's path or query string are replaced by
`[redacted]` wherever the gateway logs either (the access log, warnings, errors). A client that
pastes its key into the URL must not find it in the gateway's logs.

Key-shaped: anything that starts with the Runestone prefix (`rsk_`), provider keys (`sk-...`,
which covers OpenAI's `sk-proj-` and Anthropic's `sk-ant-`), and long bearer-like tokens: 20 or
more letters and digits in a row, not all letters (model names and words have separators or no
digits that long). The text is cut into runs of token characters by one linear scan, so a
hostile path costs time in proportion to its length; most paths are let through by a cheaper
scan first, and short ones are remembered."""

from __future__ import annotations

import functools
import re

from runestone_gateway import apikeys

REDACTED = "[redacted]"
PROVIDER_PREFIX = "sk-"
PROVIDER_MIN_LENGTH = 20
BEARER_MIN_LENGTH = 20

_CANDIDATE = re.compile(
    rf"{re.escape(apikeys.PREFIX)}|{re.escape(PROVIDER_PREFIX)}|[A-Za-z0-9]{{{BEARER_MIN_LENGTH}}}"
)
"""What every key-shaped token contains; text without it needs no closer look."""
_RUN = re.compile(r"[A-Za-z0-9_-]+")
_PIECE = re.compile(r"[A-Za-z0-9]+")


CACHED_LENGTH = 128
"""Values up to this long are remembered once checked: most requests repeat a few paths."""


def text(value: str) -> str:
    """`value` (a path, a query string) with every key-shaped token replaced."""
    return _remembered(value) if len(value) <= CACHED_LENGTH else _redacted(value)


def _redacted(value: str) -> str:
    if _CANDIDATE.search(value) is None:
        return value
    return _RUN.sub(_run, value)


_remembered = functools.lru_cache(maxsize=512)(_redacted)


def _run(match: re.Match[str]) -> str:
    run = match.group()
    return REDACTED if key_shaped(run) else run


def key_shaped(run: str) -> bool:
    if run.startswith(apikeys.PREFIX):
        return True
    if run.startswith(PROVIDER_PREFIX) and len(run) >= PROVIDER_MIN_LENGTH:
        return True
    return any(
        len(piece) >= BEARER_MIN_LENGTH and not piece.isalpha() for piece in _PIECE.findall(run)
    )
