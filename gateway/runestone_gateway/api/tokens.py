"""A quick estimate of a request's prompt tokens, taken from the key's tokens-per-minute limit
before the call and corrected with the upstream's real count after it.

About four characters a token, the rule of thumb for English with OpenAI's tokenizers, plus a
few tokens of framing per chat message (`translate.tokens`, which counts Responses and Messages
requests the same way). It is an estimate on purpose: exact counts need each
model's tokenizer, and the correction after the call makes the limit exact over time."""

from __future__ import annotations

from typing import Any

from runestone_gateway.api import validate
from runestone_gateway.translate import tokens as translated

CHARS_PER_TOKEN = translated.CHARS_PER_TOKEN


def estimate(request: validate.Request) -> int:
    body = request.body
    if request.kind == "chat":
        return translated.chat_request(body)  # one counter for chat, Responses and Messages
    if request.kind == "completion":
        return max(_of_inputs(body["prompt"]), 1)
    return max(_of_inputs(body["input"]), 1)


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
