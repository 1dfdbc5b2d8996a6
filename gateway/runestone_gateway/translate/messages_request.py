"""Anthropic Messages requests as Chat Completions requests, for OpenAI-compatible upstreams
serving `/v1/messages`; checked field by field on the way.

Decisions, where the two APIs differ:
- `system` (a string or text blocks) is the first message; a `system` turn inside `messages`
  stays where it is.
- A user turn's `tool_result` blocks become `tool` messages, sent before the rest of that turn
  (chat wants a call's results right after the call). Chat has no error flag for a result: an
  `is_error` result is sent as `Error: <text>` so the model still sees that the call failed.
- An assistant turn's `thinking` blocks are dropped (chat has no place for them); its
  `tool_use` blocks become tool calls whose arguments are the input as JSON.
- `max_tokens` is required (as Anthropic requires it) and becomes `max_completion_tokens`, or
  `max_tokens` for a server that knows only that; Anthropic counts thinking in it too.
- `top_k` and `thinking` are checked and dropped: Chat Completions has neither.
- `cache_control` marks are dropped: chat upstreams cache prefixes on their own, and report it
  in `cached_tokens`.
- Every message needs content, except a last assistant message (Anthropic's own rule); an
  empty last assistant message is dropped, a non-empty one is sent as the last chat message."""

from __future__ import annotations

from typing import Any

import orjson

from runestone_gateway.translate import checks

ROLES = ("user", "assistant", "system")
IMAGE_SOURCES = ("base64", "url")
TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


def to_chat_request(
    body: dict[str, Any], *, max_tokens_field: str = "max_completion_tokens"
) -> dict[str, Any]:
    """The Chat Completions request for a Messages request, or TranslationError."""
    if body.get("max_tokens") is None:
        raise checks.TranslationError(param="max_tokens", message="'max_tokens' is required.")
    chat = _translate(body)
    chat[max_tokens_field] = checks.positive_int(body["max_tokens"], "max_tokens")
    for field in ("temperature", "top_p"):
        if body.get(field) is not None:
            chat[field] = checks.number(body[field], field)
    if body.get("top_k") is not None:
        checks.positive_int(body["top_k"], "top_k")
    stop = body.get("stop_sequences")
    if stop is not None:
        sequences = [
            checks.string(item, f"stop_sequences[{index}]")
            for index, item in enumerate(checks.array(stop, "stop_sequences"))
        ]
        if sequences:
            chat["stop"] = sequences
    metadata = body.get("metadata")
    if metadata is not None:
        user = checks.obj(metadata, "metadata").get("user_id")
        if user is not None:
            chat["user"] = checks.string(user, "metadata.user_id")
    stream = body.get("stream")
    if stream is not None and checks.boolean(stream, "stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def check_count_request(body: dict[str, Any]) -> None:
    """Check a `count_tokens` request: a Messages request without `max_tokens`."""
    _translate(body)


def _translate(body: dict[str, Any]) -> dict[str, Any]:
    model = checks.name(body.get("model"), "model")
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system is not None:
        text = _text(system, "system")
        if text:
            messages.append({"role": "system", "content": text})
    turns = checks.array(body.get("messages"), "messages")
    if not turns:
        raise checks.TranslationError(
            param="messages", message="'messages' must hold at least one message."
        )
    call_ids: set[str] = set()
    for index, turn in enumerate(turns):
        _turn(turn, f"messages[{index}]", messages, call_ids, last=index == len(turns) - 1)
    chat: dict[str, Any] = {"model": model, "messages": messages}
    _tools(body, chat)
    if body.get("thinking") is not None:
        checks.obj(body["thinking"], "thinking")
    _output_format(body.get("output_config"), chat)
    return chat


def _turn(
    turn: object, path: str, messages: list[dict[str, Any]], call_ids: set[str], *, last: bool
) -> None:
    turn = checks.obj(turn, path)
    role = turn.get("role")
    if role not in ROLES:
        raise checks.TranslationError(
            param=f"{path}.role", message=f"'{path}.role' must be user, assistant or system."
        )
    content = turn.get("content")
    if content == "" or content == []:
        if role == "assistant" and last:
            return  # nothing to continue from: the same as no prefill
        raise checks.TranslationError(
            param=f"{path}.content",
            message="All messages must have non-empty content except for the final assistant "
            "message.",
        )
    if role == "system":
        messages.append({"role": "system", "content": _text(content, f"{path}.content")})
    elif role == "assistant":
        messages.append(_assistant(content, f"{path}.content", call_ids))
    else:
        messages.extend(_user(content, f"{path}.content", call_ids))


def _blocks(content: object, path: str) -> list[dict[str, Any]]:
    blocks = checks.array(content, path)
    return [checks.obj(block, f"{path}[{index}]") for index, block in enumerate(blocks)]


def _text_block(block: dict[str, Any], path: str) -> str:
    text = checks.string(block.get("text"), f"{path}.text")
    if not text:
        raise checks.TranslationError(
            param=f"{path}.text", message="Text content blocks must be non-empty."
        )
    return text


def _text(content: object, path: str) -> str:
    """A string, or text blocks joined (system prompts, tool results)."""
    if isinstance(content, str):
        return content
    texts = []
    for index, block in enumerate(_blocks(content, path)):
        if block.get("type") != "text":
            raise _bad_block(block.get("type"), f"{path}[{index}]", "text blocks only")
        texts.append(_text_block(block, f"{path}[{index}]"))
    return "\n\n".join(texts)


def _bad_block(kind: object, path: str, allowed: str) -> checks.TranslationError:
    return checks.TranslationError(
        param=f"{path}.type",
        message=f"A content block of type {kind!r} cannot be here ({allowed}).",
    )


def _user(content: object, path: str, call_ids: set[str]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(_blocks(content, path)):
        where = f"{path}[{index}]"
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": _text_block(block, where)})
        elif kind == "image":
            parts.append(_image(block, where))
        elif kind == "tool_result":
            results.append(_tool_result(block, where, call_ids))
        else:
            raise _bad_block(kind, where, "text, image and tool_result blocks")
    if len(parts) == 1 and parts[0]["type"] == "text":
        return [*results, {"role": "user", "content": parts[0]["text"]}]
    return [*results, {"role": "user", "content": parts}] if parts else results


def _image(block: dict[str, Any], path: str) -> dict[str, Any]:
    source = checks.obj(block.get("source"), f"{path}.source")
    kind = source.get("type")
    if kind == "base64":
        media_type = checks.name(source.get("media_type"), f"{path}.source.media_type")
        data = checks.name(source.get("data"), f"{path}.source.data")
        return {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{data}"}}
    if kind == "url":
        url = checks.name(source.get("url"), f"{path}.source.url")
        return {"type": "image_url", "image_url": {"url": url}}
    if kind == "file":
        raise checks.unsupported(f"{path}.source.type", "An image by file_id")
    raise checks.TranslationError(
        param=f"{path}.source.type", message="An image source must be base64 or url."
    )


def _tool_result(block: dict[str, Any], path: str, call_ids: set[str]) -> dict[str, Any]:
    call_id = checks.name(block.get("tool_use_id"), f"{path}.tool_use_id")
    if call_id not in call_ids:
        raise checks.TranslationError(
            param=f"{path}.tool_use_id",
            message=f"No tool_use block with id {call_id!r} comes before this tool_result.",
        )
    content = block.get("content")
    text = "" if content is None else _text(content, f"{path}.content")
    if block.get("is_error") is not None and checks.boolean(block["is_error"], f"{path}.is_error"):
        text = f"Error: {text}" if text else "Error"
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def _assistant(content: object, path: str, call_ids: set[str]) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for index, block in enumerate(_blocks(content, path)):
        where = f"{path}[{index}]"
        kind = block.get("type")
        if kind == "text":
            texts.append(_text_block(block, where))
        elif kind == "tool_use":
            call_id = checks.name(block.get("id"), f"{where}.id")
            arguments = orjson.dumps(checks.obj(block.get("input"), f"{where}.input")).decode()
            name = checks.name(block.get("name"), f"{where}.name")
            calls.append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            )
            call_ids.add(call_id)
        elif kind not in ("thinking", "redacted_thinking"):
            raise _bad_block(kind, where, "text, tool_use and thinking blocks")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    elif message["content"] is None:
        message["content"] = ""  # only thinking: an empty turn keeps the turns in order
    return message


def _tools(body: dict[str, Any], chat: dict[str, Any]) -> None:
    tools: list[dict[str, Any]] = []
    for index, tool in enumerate(checks.array(body.get("tools") or [], "tools")):
        path = f"tools[{index}]"
        tool = checks.obj(tool, path)
        kind = tool.get("type")
        if kind not in (None, "custom"):
            # Anthropic's server tools (web search, code execution, bash, ...) run at Anthropic.
            raise checks.unsupported(f"{path}.type", f"The tool type {kind!r}")
        function: dict[str, Any] = {
            "name": checks.name(tool.get("name"), f"{path}.name"),
            "parameters": checks.obj(tool.get("input_schema"), f"{path}.input_schema"),
        }
        if tool.get("description") is not None:
            function["description"] = checks.string(tool["description"], f"{path}.description")
        if tool.get("strict") is not None:
            function["strict"] = checks.boolean(tool["strict"], f"{path}.strict")
        tools.append({"type": "function", "function": function})
    choice = body.get("tool_choice")
    if choice is None:
        if tools:
            chat["tools"] = tools
        return
    choice = checks.obj(choice, "tool_choice")
    kind = choice.get("type")
    if kind == "tool":
        name = checks.name(choice.get("name"), "tool_choice.name")
        if name not in {tool["function"]["name"] for tool in tools}:
            raise checks.TranslationError(
                param="tool_choice.name", message=f"No tool named {name!r} in 'tools'."
            )
        chat_choice: object = {"type": "function", "function": {"name": name}}
    elif kind in TOOL_CHOICES:
        chat_choice = TOOL_CHOICES[kind]
        if kind == "any" and not tools:
            raise checks.TranslationError(
                param="tool_choice", message="'any' needs at least one tool in 'tools'."
            )
    else:
        raise checks.TranslationError(
            param="tool_choice.type", message="'tool_choice.type' must be auto, any, tool or none."
        )
    if not tools:
        return  # chat servers refuse tool_choice without tools; none and auto mean the same
    chat["tools"] = tools
    chat["tool_choice"] = chat_choice
    disable = choice.get("disable_parallel_tool_use")
    if disable is not None and checks.boolean(disable, "tool_choice.disable_parallel_tool_use"):
        chat["parallel_tool_calls"] = False


def _output_format(config: object, chat: dict[str, Any]) -> None:
    """Structured output: Anthropic's json_schema format is chat's strict json_schema."""
    if config is None:
        return
    form = checks.obj(config, "output_config").get("format")
    if form is None:
        return
    if checks.obj(form, "output_config.format").get("type") != "json_schema":
        raise checks.TranslationError(
            param="output_config.format.type",
            message="'output_config.format.type' must be json_schema.",
        )
    schema = checks.obj(form.get("schema"), "output_config.format.schema")
    chat["response_format"] = {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }
