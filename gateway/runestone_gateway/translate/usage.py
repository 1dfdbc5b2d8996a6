"""One usage record the API layer charges from, read from and written to each API's shape.

The APIs count cached input differently, and charging depends on getting it right:
- Chat Completions and Responses count every input token in `prompt_tokens` / `input_tokens`;
  cache reads (`cached_tokens`) and cache writes (`cache_write_tokens`) are parts of that total.
- Anthropic Messages counts only the uncached rest in `input_tokens`; cache reads
  (`cache_read_input_tokens`) and writes (`cache_creation_input_tokens`) come on top.
`Usage` keeps the OpenAI way (`input_tokens` is everything) and says what part was cached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)  # one per request: a frozen one costs three times as much to build
class Usage:
    input_tokens: int
    """Every prompt token, cache reads and writes included."""
    output_tokens: int
    """Every generated token, reasoning included."""
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def uncached_input_tokens(self) -> int:
        """Input tokens charged at the plain input price."""
        return max(self.input_tokens - self.cache_read_tokens - self.cache_write_tokens, 0)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def add(first: Usage, second: Usage) -> Usage:
    """What two answers used together (the rounds of one response)."""
    return Usage(
        input_tokens=first.input_tokens + second.input_tokens,
        output_tokens=first.output_tokens + second.output_tokens,
        cache_read_tokens=first.cache_read_tokens + second.cache_read_tokens,
        cache_write_tokens=first.cache_write_tokens + second.cache_write_tokens,
        reasoning_tokens=first.reasoning_tokens + second.reasoning_tokens,
    )


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _details(usage: dict[str, Any], name: str) -> dict[str, Any]:
    details = usage.get(name)
    return details if isinstance(details, dict) else {}


def _openai(usage: object, input: str, output: str) -> Usage | None:
    """Chat's and Responses' usage differ only in names: `prompt`/`input`,
    `completion`/`output`."""
    if not isinstance(usage, dict):
        return None
    input_details = _details(usage, f"{input}_tokens_details")
    return Usage(
        input_tokens=_count(usage.get(f"{input}_tokens")),
        output_tokens=_count(usage.get(f"{output}_tokens")),
        cache_read_tokens=_count(input_details.get("cached_tokens")),
        cache_write_tokens=_count(input_details.get("cache_write_tokens")),
        reasoning_tokens=_count(
            _details(usage, f"{output}_tokens_details").get("reasoning_tokens")
        ),
    )


def from_chat(usage: object) -> Usage | None:
    """A Chat Completions `usage` object, or None when there is none."""
    return _openai(usage, "prompt", "completion")


def from_responses(usage: object) -> Usage | None:
    """A Responses `usage` object (a Responses upstream, or a stored response)."""
    return _openai(usage, "input", "output")


def from_messages(usage: object) -> Usage | None:
    """An Anthropic `usage` object (a whole Message's, or the sum a stream's events gave)."""
    if not isinstance(usage, dict):
        return None
    read = _count(usage.get("cache_read_input_tokens"))
    written = _count(usage.get("cache_creation_input_tokens"))
    return Usage(
        input_tokens=_count(usage.get("input_tokens")) + read + written,
        output_tokens=_count(usage.get("output_tokens")),
        cache_read_tokens=read,
        cache_write_tokens=written,
        reasoning_tokens=_count(_details(usage, "output_tokens_details").get("thinking_tokens")),
    )


def to_chat(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def to_responses(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def to_messages(usage: Usage) -> dict[str, Any]:
    body: dict[str, Any] = {
        "input_tokens": usage.uncached_input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
    }
    if usage.reasoning_tokens:
        body["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return body
