"""A quick estimate of a request's prompt tokens, taken from the key's tokens-per-minute limit
before the call and corrected with the upstream's real count after it; and of a streamed
answer's output tokens, charged when the upstream reports no usage (a stream the client left,
an upstream that omits usage).

About four characters a token, the rule of thumb for English with OpenAI's tokenizers, plus a
few tokens of framing per chat message (`translate.tokens`, which counts Responses and Messages
requests the same way). It is an estimate on purpose: exact counts need each
model's tokenizer, and the correction after the call makes the limit exact over time."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import orjson

from runestone_gateway.api import validate
from runestone_gateway.translate import tokens as translated
from runestone_gateway.transport import sse

CHARS_PER_TOKEN = translated.CHARS_PER_TOKEN


def estimate(request: validate.Request) -> int:
    body = request.body
    if request.kind == "chat":
        return translated.chat_request(body)  # one counter for chat, Responses and Messages
    if request.kind == "completion":
        return max(_of_inputs(body["prompt"]), 1)
    return max(_of_inputs(body["input"]), 1)


def streamed(size: int, events: int, early: Iterable[bytes]) -> int:
    """Output tokens of a relayed stream of `events` events in `size` bytes, from its text.

    The relay keeps only those two counts (and the first few writes, `early`): nothing per
    event beyond a length and a count, since usually the upstream's usage makes this moot.
    An OpenAI stream's events differ only in their text, so the framing of one event that
    carries text, taken off every event, leaves the size of the text; the events before it
    that carry none (the role chunk) are taken off whole."""
    for written in early:
        for event in written.split(b"\n\n")[:-1]:
            texts = _texts(event)
            if not texts:
                size -= len(event) + 2
                events -= 1
                continue
            framing = len(event) + 2 - sum(len(orjson.dumps(text)) - 2 for text in texts)
            return math.ceil(max(size - events * framing, 0) / CHARS_PER_TOKEN)
    return 0


def _texts(event: bytes) -> list[str]:
    """The texts a chunk event carries: content, a completion's text, tool-call arguments."""
    try:
        chunk = orjson.loads(sse.parse(event)[1])
    except orjson.JSONDecodeError:
        return []
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    texts: list[str] = []
    for choice in choices if isinstance(choices, list) else ():
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            delta = choice  # a completion's chunk: its text is on the choice
        for field in ("content", "text", "reasoning_content"):
            value = delta.get(field)
            if isinstance(value, str) and value:
                texts.append(value)
        for call in delta.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            arguments = function.get("arguments") if isinstance(function, dict) else None
            if isinstance(arguments, str) and arguments:
                texts.append(arguments)
    return texts


def _of_inputs(value: Any) -> int:
    """A string, a list of strings, a list of token ids, or a list of lists of token ids."""
    if isinstance(value, str):
        return _tokens(len(value))
    if not isinstance(value, list):
        return 1
    total = 0
    for item in value:
        if isinstance(item, str):
            total += _tokens(len(item))
        elif isinstance(item, list):
            total += len(item)
        else:
            total += 1  # one token id
    return total


def _tokens(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)
