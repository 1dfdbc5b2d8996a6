"""Hand-written checks of client request bodies: only what routing and translation rely on.

The hot path does not build models; it checks a few fields of the parsed dict and leaves the
rest to the upstream, which knows its own rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from runestone_gateway import config, errors


@dataclass(slots=True)  # one per request: a frozen one costs several times as much to build
class Request:
    kind: config.Kind
    body: dict[str, Any]
    model: str
    stream: bool
    include_usage: bool


def document(raw: bytes) -> tuple[dict[str, Any], str]:
    """A request body that is a JSON object naming a model, and the model; else a 400."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise errors.malformed("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise errors.malformed("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise errors.malformed("'model' is required and must be a non-empty string.", param="model")
    return body, model


def streamed(body: dict[str, Any]) -> bool:
    """The request's `stream` flag (absent or null: false); else a 400."""
    stream = body.get("stream", False)
    if stream is None:
        return False
    if not isinstance(stream, bool):
        raise errors.malformed("'stream' must be a boolean.", param="stream")
    return stream


def parse(kind: config.Kind, raw: bytes) -> Request:
    """The parsed request, or a 400 GatewayError that says what is wrong."""
    body, model = document(raw)
    if kind == "chat":
        _check_messages(body.get("messages"))
        _check_tools(body)
    elif kind == "completion":
        _check_prompt(body.get("prompt"))
    else:
        _check_embedding_input(body)
    stream = streamed(body)
    if kind == "embedding" and stream:
        raise errors.malformed("Embeddings cannot be streamed.", param="stream")
    include_usage = False
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise errors.malformed("'stream_options' must be an object.", param="stream_options")
        include_usage = options.get("include_usage") is True
    return Request(kind, body, model, stream, include_usage and stream)


def _check_messages(messages: object) -> None:
    if not isinstance(messages, list) or not messages:
        raise errors.malformed("'messages' must be a non-empty array.", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise errors.malformed(
                f"'messages[{index}]' must be an object with a 'role'.", param=f"messages[{index}]"
            )


def _check_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is None:
        return
    if not isinstance(tools, list):
        raise errors.malformed("'tools' must be an array.", param="tools")
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise errors.malformed(
                f"'tools[{index}]' must be a function tool with a name.", param=f"tools[{index}]"
            )


def _check_prompt(prompt: object) -> None:
    if isinstance(prompt, str):
        return
    if isinstance(prompt, list) and prompt:
        return
    raise errors.malformed("'prompt' must be a string or a non-empty array.", param="prompt")


def _check_embedding_input(body: dict[str, Any]) -> None:
    value = body.get("input")
    if not (isinstance(value, str) and value) and not (isinstance(value, list) and value):
        raise errors.malformed("'input' must be a non-empty string or array.", param="input")
    encoding = body.get("encoding_format")
    if encoding is not None and encoding not in ("float", "base64"):
        raise errors.malformed(
            "'encoding_format' must be 'float' or 'base64'.", param="encoding_format"
        )
