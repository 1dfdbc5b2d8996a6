"""Responses API requests as Chat Completions requests, checked field by field on the way.

Decisions, where the two APIs differ:
- `instructions` and earlier items (`history`, which the API layer loads for
  `previous_response_id`) come before `input`, instructions first; as in the Responses API,
  instructions are not carried over from the earlier response.
- `developer` messages become `system` messages: many OpenAI-compatible servers know only the
  older role.
- `max_output_tokens` becomes `max_completion_tokens` unless the caller names `max_tokens` for a
  server that knows only that: both APIs count reasoning tokens in it, and OpenAI's reasoning
  models refuse `max_tokens`.
- `metadata` is not sent: Chat Completions takes it only with `store`, which asks the upstream to
  keep the completion. It is checked here and repeated in the response object.
- A function tool's `strict` is passed only when the client set it (Responses defaults it to
  true, chat to false; a server that cannot enforce a schema would refuse the request).
- `reasoning` items are dropped: they carry another model's encrypted reasoning.
- A `file_search` tool is offered as a function of that name, which the API layer answers;
  an earlier `file_search_call` item becomes that function's call and output.
- `stream` asks for the usage chunk too (`stream_options.include_usage`), so every streamed
  answer can be charged and its last event carries usage.
Fields the translation does not need (`include`, `truncation`, `service_tier`, `top_logprobs`,
`text.verbosity`, `prompt_cache_key`, ...) are ignored; ones whose meaning cannot be kept
(`background`, `conversation`, `prompt`) are refused."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runestone_gateway.translate import checks, file_search, responses_tools

ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
IMAGE_DETAILS = ("auto", "low", "high")
METADATA_KEYS = 16
REFUSED = {
    "background": "Background responses",
    "conversation": "The conversation parameter",
    "prompt": "A prompt template",
}


def to_chat_request(
    body: dict[str, Any],
    *,
    history: Sequence[object] = (),
    max_tokens_field: str = "max_completion_tokens",
) -> dict[str, Any]:
    """The Chat Completions request for a Responses request, or TranslationError."""
    model = checks.name(body.get("model"), "model")
    for field, what in REFUSED.items():
        if body.get(field) not in (None, False):
            raise checks.unsupported(field, what)
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if instructions is not None and checks.string(instructions, "instructions"):
        messages.append({"role": "system", "content": instructions})
    items = _Items(messages)
    try:
        for item in history:
            items.add(item, "previous_response_id")
    except checks.TranslationError as error:
        raise checks.TranslationError(
            param="previous_response_id",
            message=f"The earlier response cannot be continued: {error.message}",
        ) from None
    raw = body.get("input")
    if isinstance(raw, str):
        messages.append({"role": "user", "content": raw})
    elif isinstance(raw, list):
        for index, item in enumerate(raw):
            items.add(item, f"input[{index}]")
    elif raw is not None or not history:
        raise checks.TranslationError(
            param="input", message="'input' must be a string or an array."
        )
    if all(message["role"] == "system" for message in messages):
        raise checks.TranslationError(param="input", message="'input' must hold at least one item.")
    chat: dict[str, Any] = {"model": model, "messages": messages}
    responses_tools.add(body, chat)
    _text_format(body.get("text"), chat)
    _sampling(body, chat, max_tokens_field)
    _metadata(body.get("metadata"))
    # The API layer acts on these two; checked here with the rest.
    if body.get("store") is not None:
        checks.boolean(body["store"], "store")
    if body.get("previous_response_id") is not None:
        checks.name(body["previous_response_id"], "previous_response_id")
    stream = body.get("stream")
    if stream is not None and checks.boolean(stream, "stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def input_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's `input` as a list of items (a string is one user message), to keep for
    `previous_response_id` and `input_items`. Call it after `to_chat_request` has checked it."""
    raw = body.get("input")
    if isinstance(raw, str):
        return [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": raw}]}
        ]
    return list(raw) if isinstance(raw, list) else []


class _Items:
    """Responses items appended to chat messages; remembers the calls that want an output."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages
        self.call_ids: set[str] = set()

    def add(self, item: object, path: str) -> None:
        item = checks.obj(item, path)
        kind = item.get("type")
        if kind is None and "role" in item:
            kind = "message"
        if kind == "message":
            self._message(item, path)
        elif kind == "function_call":
            self._function_call(item, path)
        elif kind == "function_call_output":
            self._function_call_output(item, path)
        elif kind == "reasoning":
            return
        elif kind == "file_search_call":
            # An earlier search, as the model saw it: its call and (when kept) its results.
            for function_item in file_search.as_function_items(item):
                self.add(function_item, path)
        elif kind is None:
            raise checks.TranslationError(
                param=f"{path}.type", message=f"'{path}' must have a 'type' or a 'role'."
            )
        else:
            what = f"The input item type {checks.string(kind, f'{path}.type')!r}"
            raise checks.unsupported(f"{path}.type", what)

    def _message(self, item: dict[str, Any], path: str) -> None:
        role = item.get("role")
        if role not in ROLES:
            raise checks.TranslationError(
                param=f"{path}.role",
                message=f"'{path}.role' must be one of user, assistant, system, developer.",
            )
        content = item.get("content")
        if role == "assistant":
            self.messages.append(_assistant_message(content, f"{path}.content"))
        else:
            parts = _input_parts(content, f"{path}.content", images=role == "user")
            self.messages.append({"role": ROLES[role], "content": parts})

    def _function_call(self, item: dict[str, Any], path: str) -> None:
        call_id = checks.name(item.get("call_id"), f"{path}.call_id")
        call = {
            "id": call_id,
            "type": "function",
            "function": {
                "name": checks.name(item.get("name"), f"{path}.name"),
                "arguments": checks.string(item.get("arguments"), f"{path}.arguments"),
            },
        }
        self.call_ids.add(call_id)
        last = self.messages[-1] if self.messages else None
        # Calls made in one turn are one assistant message with several tool calls.
        if last is not None and last["role"] == "assistant":
            last.setdefault("tool_calls", []).append(call)
        else:
            self.messages.append({"role": "assistant", "content": None, "tool_calls": [call]})

    def _function_call_output(self, item: dict[str, Any], path: str) -> None:
        call_id = checks.name(item.get("call_id"), f"{path}.call_id")
        if call_id not in self.call_ids:
            raise checks.TranslationError(
                param=f"{path}.call_id",
                message=f"No function_call item with call_id {call_id!r} comes before this output.",
            )
        output = item.get("output")
        if not isinstance(output, str):
            output = _text_of_parts(output, f"{path}.output", "a function_call_output")
        self.messages.append({"role": "tool", "tool_call_id": call_id, "content": output})


def _assistant_message(content: object, path: str) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    refusals: list[str] = []
    for index, part in enumerate(_parts(content, path)):
        where = f"{path}[{index}]"
        kind = part.get("type")
        if kind in ("output_text", "input_text"):
            texts.append(checks.string(part.get("text"), f"{where}.text"))
        elif kind == "refusal":
            refusals.append(checks.string(part.get("refusal"), f"{where}.refusal"))
        else:
            raise _bad_part(kind, where, "an assistant message")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
    if refusals:
        message["refusal"] = "".join(refusals)
    return message


def _input_parts(content: object, path: str, *, images: bool) -> str | list[dict[str, Any]]:
    """A user, system or developer message's content; a lone text part is sent as a string."""
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(_parts(content, path)):
        where = f"{path}[{index}]"
        kind = part.get("type")
        if kind == "input_text":
            parts.append({"type": "text", "text": checks.string(part.get("text"), f"{where}.text")})
        elif kind == "input_image" and images:
            parts.append(_image(part, where))
        elif kind == "input_file" and images:
            parts.append(_file(part, where))
        else:
            raise _bad_part(kind, where, "this message" if images else "a system message")
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["text"])
    return parts


def _parts(content: object, path: str) -> list[dict[str, Any]]:
    if not isinstance(content, list) or not content:
        raise checks.TranslationError(
            param=path, message=f"'{path}' must be a string or a non-empty array."
        )
    return [checks.obj(part, f"{path}[{index}]") for index, part in enumerate(content)]


def _text_of_parts(content: object, path: str, where: str) -> str:
    texts = []
    for index, part in enumerate(_parts(content, path)):
        if part.get("type") != "input_text":
            raise _bad_part(part.get("type"), f"{path}[{index}]", where)
        texts.append(checks.string(part.get("text"), f"{path}[{index}].text"))
    return "".join(texts)


def _bad_part(kind: object, path: str, where: str) -> checks.TranslationError:
    return checks.TranslationError(
        param=f"{path}.type", message=f"A content part of type {kind!r} cannot be in {where}."
    )


def _image(part: dict[str, Any], path: str) -> dict[str, Any]:
    url = part.get("image_url")
    if url is None and part.get("file_id") is not None:
        raise checks.unsupported(f"{path}.file_id", "An input_image by file_id")
    url = checks.name(url, f"{path}.image_url")
    if url.startswith("data:"):
        media_type, marker, data = url[5:].partition(";base64,")
        if not marker or not media_type.startswith("image/") or not data:
            raise checks.TranslationError(
                param=f"{path}.image_url",
                message="A data URL must read data:image/<type>;base64,<data>.",
            )
    elif not url.startswith(("https://", "http://")):
        raise checks.TranslationError(
            param=f"{path}.image_url",
            message="'image_url' must be an http(s) URL or a base64 data URL.",
        )
    image: dict[str, Any] = {"url": url}
    detail = part.get("detail")
    if detail in IMAGE_DETAILS:
        image["detail"] = detail  # `original` has no chat counterpart: the server's default
    return {"type": "image_url", "image_url": image}


def _file(part: dict[str, Any], path: str) -> dict[str, Any]:
    data = part.get("file_data")
    if data is None:
        raise checks.unsupported(f"{path}.file_data", "An input_file without file_data")
    file = {"file_data": checks.name(data, f"{path}.file_data")}
    if part.get("filename") is not None:
        file["filename"] = checks.string(part["filename"], f"{path}.filename")
    return {"type": "file", "file": file}


# --- the other settings


def _text_format(text: object, chat: dict[str, Any]) -> None:
    if text is None:
        return
    form = checks.obj(text, "text").get("format")
    if form is None:
        return
    kind = checks.obj(form, "text.format").get("type")
    if kind == "text":
        return
    if kind == "json_object":
        chat["response_format"] = {"type": "json_object"}
        return
    if kind != "json_schema":
        raise checks.TranslationError(
            param="text.format.type",
            message="'text.format.type' must be text, json_object or json_schema.",
        )
    schema: dict[str, Any] = {
        "name": checks.name(form.get("name"), "text.format.name"),
        "schema": checks.obj(form.get("schema"), "text.format.schema"),
    }
    if form.get("strict") is not None:
        schema["strict"] = checks.boolean(form["strict"], "text.format.strict")
    if form.get("description") is not None:
        schema["description"] = checks.string(form["description"], "text.format.description")
    chat["response_format"] = {"type": "json_schema", "json_schema": schema}


def _sampling(body: dict[str, Any], chat: dict[str, Any], max_tokens_field: str) -> None:
    if body.get("max_output_tokens") is not None:
        chat[max_tokens_field] = checks.positive_int(body["max_output_tokens"], "max_output_tokens")
    for field in ("temperature", "top_p"):
        if body.get(field) is not None:
            chat[field] = checks.number(body[field], field)
    if body.get("user") is not None:
        chat["user"] = checks.string(body["user"], "user")
    reasoning = body.get("reasoning")
    if reasoning is not None:
        effort = checks.obj(reasoning, "reasoning").get("effort")
        if effort is not None:
            chat["reasoning_effort"] = checks.string(effort, "reasoning.effort")


def _metadata(metadata: object) -> None:
    if metadata is None:
        return
    metadata = checks.obj(metadata, "metadata")
    if len(metadata) > METADATA_KEYS:
        raise checks.TranslationError(
            param="metadata", message=f"'metadata' holds at most {METADATA_KEYS} pairs."
        )
    for key, value in metadata.items():
        if len(key) > 64 or not isinstance(value, str) or len(value) > 512:
            raise checks.TranslationError(
                param=f"metadata.{key}",
                message="metadata keys are strings of at most 64 characters, values of 512.",
            )
