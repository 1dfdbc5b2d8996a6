"""OpenAI chat and completion requests to Anthropic Messages requests, and whole Anthropic
answers back to OpenAI shapes. Pure functions, no I/O; streams are in `anthropic_stream`."""

from __future__ import annotations

from typing import Any

import orjson

from runestone_gateway import config, errors
from runestone_gateway.providers import base, shapes
from runestone_gateway.translate import reasons
from runestone_gateway.translate import usage as usage_

DEFAULT_MAX_TOKENS = 4096

FINISH_REASONS = reasons.FINISH_BY_STOP_REASON


def to_messages_request(call: base.Call, *, stream: bool) -> dict[str, Any]:
    """The Messages API request for an OpenAI chat or completion request (400 if it cannot be)."""
    body = call.body
    if call.kind == "completion":
        system: list[str] = []
        messages = [{"role": "user", "content": [_text_block(_single_prompt(body["prompt"]))]}]
    else:
        system, messages = _messages(body["messages"])
    n = body.get("n")
    if n not in (None, 1):
        raise errors.malformed("Only n=1 is supported for this model.", param="n")
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    request: dict[str, Any] = {
        "model": call.upstream_model,
        "max_tokens": max_tokens,
        "messages": messages,
    }
    if system:
        request["system"] = "\n\n".join(system)
    for name in ("temperature", "top_p"):
        if isinstance(body.get(name), int | float):
            request[name] = body[name]
    stop = body.get("stop")
    if isinstance(stop, str):
        request["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        request["stop_sequences"] = stop
    if isinstance(body.get("user"), str):
        request["metadata"] = {"user_id": body["user"]}
    if call.kind == "chat":
        _add_tools(body, request)
    if stream:
        request["stream"] = True
    return request


def _single_prompt(prompt: object) -> str:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        return prompt[0]
    raise errors.malformed("Only a single text prompt is supported for this model.", param="prompt")


def _text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _messages(openai_messages: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for index, message in enumerate(openai_messages):
        role = message["role"]
        content = message.get("content")
        if role in ("system", "developer"):
            text = shapes.text_of(content)
            if text:
                system.append(text)
            continue
        if role == "user":
            blocks = _user_blocks(content, index)
        elif role == "assistant":
            blocks = _assistant_blocks(message, index)
        elif role == "tool":
            role = "user"
            blocks = [
                {
                    "type": "tool_result",
                    "tool_use_id": str(message.get("tool_call_id", "")),
                    "content": shapes.text_of(content),
                }
            ]
        else:
            raise errors.malformed(
                f"Role {role!r} is not supported for this model.", param=f"messages[{index}].role"
            )
        if not blocks:
            continue
        # The Messages API wants turns to alternate; consecutive turns of one role merge.
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})
    return system, messages


def _user_blocks(content: object, index: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [_text_block(content)] if content else []
    if not isinstance(content, list):
        raise errors.malformed(
            "Message content must be a string or an array.", param=f"messages[{index}].content"
        )
    blocks: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            if part["text"]:
                blocks.append(_text_block(part["text"]))
        elif kind == "image_url" and isinstance(part.get("image_url"), dict):
            blocks.append(_image_block(str(part["image_url"].get("url", ""))))
        else:
            raise errors.malformed(
                f"Content part {kind!r} is not supported for this model.",
                param=f"messages[{index}].content",
            )
    return blocks


def _image_block(url: str) -> dict[str, Any]:
    if url.startswith("data:") and ";base64," in url:
        media_type, _, data = url[5:].partition(";base64,")
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": url}}


def _assistant_blocks(message: dict[str, Any], index: int) -> list[dict[str, Any]]:
    text = shapes.text_of(message.get("content"))
    blocks = [_text_block(text)] if text else []
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise errors.malformed("Malformed tool call.", param=f"messages[{index}].tool_calls")
        try:
            arguments = orjson.loads(function.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            raise errors.malformed(
                "Tool call arguments must be JSON.", param=f"messages[{index}].tool_calls"
            ) from None
        blocks.append(
            {
                "type": "tool_use",
                "id": str(call.get("id", "")),
                "name": str(function.get("name", "")),
                "input": arguments if isinstance(arguments, dict) else {"value": arguments},
            }
        )
    return blocks


def _add_tools(body: dict[str, Any], request: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools:
        request["tools"] = [
            {
                "name": tool["function"]["name"],
                "description": tool["function"].get("description", ""),
                "input_schema": tool["function"].get("parameters")
                or {"type": "object", "properties": {}},
            }
            for tool in tools
        ]
    choice = body.get("tool_choice")
    anthropic_choice: dict[str, Any] | None = None
    if choice == "none":
        anthropic_choice = {"type": "none"}
    elif choice == "auto":
        anthropic_choice = {"type": "auto"}
    elif choice == "required":
        anthropic_choice = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        anthropic_choice = {"type": "tool", "name": str(choice["function"].get("name", ""))}
    if body.get("parallel_tool_calls") is False and tools:
        anthropic_choice = anthropic_choice or {"type": "auto"}
        if anthropic_choice["type"] != "none":
            anthropic_choice["disable_parallel_tool_use"] = True
    if anthropic_choice is not None and tools:
        request["tool_choice"] = anthropic_choice


def usage_of(value: object) -> base.Usage:
    """Anthropic usage as OpenAI counts it: cached prompt tokens are prompt tokens too, and say
    what part of them the cache gave (and took)."""
    return usage_.from_messages(value) or base.Usage(0, 0)


def from_message(message: dict[str, Any], kind: config.Kind, created: int) -> dict[str, Any]:
    """An Anthropic Message as an OpenAI chat completion or text completion."""
    content = message.get("content") or []
    text = "".join(
        block.get("text", "")
        for block in content
        if isinstance(block, dict) and block.get("type") == "text"
    )
    finish = FINISH_REASONS.get(str(message.get("stop_reason")), "stop")
    usage = usage_of(message.get("usage"))
    model = str(message.get("model", ""))
    message_id = str(message.get("id", ""))
    if kind == "completion":
        return shapes.text_completion(
            id="cmpl-" + message_id,
            created=created,
            model=model,
            text=text,
            finish_reason=shapes.completion_finish_reason(finish),
            usage=usage,
        )
    tool_calls = [
        {
            "id": block.get("id", ""),
            "type": "function",
            "function": {
                "name": block.get("name", ""),
                "arguments": orjson.dumps(block.get("input") or {}).decode(),
            },
        }
        for block in content
        if isinstance(block, dict) and block.get("type") == "tool_use"
    ]
    return shapes.chat_completion(
        id="chatcmpl-" + message_id,
        created=created,
        model=model,
        content=text if text or not tool_calls else None,
        tool_calls=tool_calls,
        finish_reason=finish,
        usage=usage,
    )
