"""Prompt-token estimates for Chat Completions, Responses and Messages requests, by one rule:
about four characters a token, plus a few tokens of framing per message. They size a request
against its key's tokens-per-minute limit before the call (the upstream's count corrects it
after) and answer `count_tokens` where no tokenizer is at hand.

Besides message text they count what the model reads: tool definitions, tool calls and their
results, and each image at a fixed size. The estimates never raise: they may run on a body that
has not been checked yet."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 3
TOKENS_PER_IMAGE = 1600
"""Anthropic's figure for an image at the largest size it keeps (about 1.15 megapixels); the
image's own size is not read."""


def responses_input(body: dict[str, Any], history: Iterable[object] = ()) -> int:
    """A Responses request's prompt tokens: instructions, earlier items, input and tools."""
    count = _Count()
    count.message(body.get("instructions"))
    for item in history:
        count.item(item)
    raw = body.get("input")
    if isinstance(raw, list):
        for item in raw:
            count.item(item)
    else:
        count.message(raw)
    count.tools(body.get("tools"))
    return count.tokens()


def chat_request(body: dict[str, Any]) -> int:
    """A Chat Completions request's prompt tokens: messages (their tool calls too) and tools."""
    count = _Count()
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else ():
        if not isinstance(message, dict):
            continue
        count.message(message.get("content") or "")
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                count.content(function.get("name"))
                count.content(function.get("arguments"))
    count.tools(body.get("tools"))
    return count.tokens()


def messages_request(body: dict[str, Any]) -> int:
    """A Messages request's prompt tokens: system, messages and tools."""
    count = _Count()
    count.message(body.get("system"))
    turns = body.get("messages")
    for turn in turns if isinstance(turns, list) else ():
        count.message(turn.get("content") if isinstance(turn, dict) else None)
    count.tools(body.get("tools"))
    return count.tokens()


class _Count:
    def __init__(self) -> None:
        self.chars = 0
        self.framing = 0

    def tokens(self) -> int:
        return max(-(-self.chars // CHARS_PER_TOKEN) + self.framing, 1)

    def message(self, content: object) -> None:
        if content is None:
            return
        self.framing += TOKENS_PER_MESSAGE
        self.content(content)

    def item(self, item: object) -> None:
        """A Responses item: a message, a function call or its output."""
        if not isinstance(item, dict):
            return
        if "content" in item:
            self.message(item["content"])
            return
        self.framing += TOKENS_PER_MESSAGE
        for field in ("name", "arguments", "output"):
            self.content(item.get(field))

    def content(self, content: object) -> None:
        """A string, or an array of parts or blocks of either API."""
        if isinstance(content, str):
            self.chars += len(content)
            return
        if not isinstance(content, list):
            return
        for part in content:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind in ("input_image", "image", "image_url"):
                self.framing += TOKENS_PER_IMAGE
                continue
            for field in ("text", "refusal", "name", "thinking"):
                value = part.get(field)
                if isinstance(value, str):
                    self.chars += len(value)
            if kind == "tool_use":
                self.chars += len(orjson.dumps(part.get("input")))
            elif kind == "tool_result":
                self.content(part.get("content"))

    def tools(self, tools: object) -> None:
        """Tool definitions are prompt text to the model: counted as their JSON."""
        if isinstance(tools, list) and tools:
            self.chars += len(orjson.dumps(tools))
