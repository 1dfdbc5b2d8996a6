"""The built-in mock: deterministic chat, completion and embeddings, whole and streamed."""

from __future__ import annotations

import base64
import struct

import orjson

from runestone_gateway import config
from runestone_gateway.providers import base, mock
from runestone_gateway.transport import sse

PROVIDER = mock.MockProvider(
    config.Provider(name="mock", type="mock", models=[config.Model(name="m")])
)


async def test_chat_is_deterministic() -> None:
    call = base.Call("chat", {"messages": [{"role": "user", "content": "one two"}]}, "m")
    first = orjson.loads((await PROVIDER.answer(call)).body)
    second = orjson.loads((await PROVIDER.answer(call)).body)
    assert first["choices"] == second["choices"]
    assert first["choices"][0]["message"]["content"] == "Mock answer: one two"
    assert first["usage"] == {
        "prompt_tokens": 2,
        "completion_tokens": 4,
        "total_tokens": 6,
        "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


async def test_max_tokens_cuts_with_length() -> None:
    call = base.Call(
        "chat", {"messages": [{"role": "user", "content": "a b c d"}], "max_tokens": 2}, "m"
    )
    choice = orjson.loads((await PROVIDER.answer(call)).body)["choices"][0]
    assert (choice["message"]["content"], choice["finish_reason"]) == ("Mock answer:", "length")


async def test_required_tool_is_called() -> None:
    tools = [{"type": "function", "function": {"name": "lookup"}}]
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "tools": tools,
        "tool_choice": "required",
    }
    choice = orjson.loads((await PROVIDER.answer(base.Call("chat", body, "m"))).body)["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "lookup", "arguments": "{}"}


async def collect(stream: base.EventStream) -> list[bytes]:
    events = []
    while (event := await stream.next()) is not None:
        events.append(event)
    return events


async def test_stream_carries_words_usage_and_done() -> None:
    call = base.Call(
        "chat", {"messages": [{"role": "user", "content": "hi there"}]}, "m", include_usage=True
    )
    stream = await PROVIDER.stream(call)
    events = await collect(stream)
    assert events[-1] == sse.DONE_EVENT
    chunks = [orjson.loads(sse.parse(event)[1]) for event in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Mock answer: hi there"
    assert chunks[-1]["usage"]["completion_tokens"] == 4
    assert stream.usage == base.Usage(2, 4)


async def test_completion_stream() -> None:
    stream = await PROVIDER.stream(base.Call("completion", {"prompt": "p q"}, "m"))
    chunks = [orjson.loads(sse.parse(e)[1]) for e in (await collect(stream))[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks) == "Mock completion: p q"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_embeddings_are_unit_vectors_in_both_encodings() -> None:
    body = {"input": ["a", "b"], "dimensions": 4, "encoding_format": "float"}
    floats = orjson.loads((await PROVIDER.answer(base.Call("embedding", body, "m"))).body)["data"]
    packed = orjson.loads(
        (
            await PROVIDER.answer(
                base.Call("embedding", {**body, "encoding_format": "base64"}, "m")
            )
        ).body
    )["data"]
    for plain, encoded in zip(floats, packed, strict=True):
        assert len(plain["embedding"]) == 4
        assert abs(sum(v * v for v in plain["embedding"]) - 1) < 1e-9
        decoded = struct.unpack("<4f", base64.b64decode(encoded["embedding"]))
        assert all(abs(x - y) < 1e-6 for x, y in zip(decoded, plain["embedding"], strict=True))
    assert floats[0]["embedding"] != floats[1]["embedding"]


SEARCH = [{"type": "function", "function": {"name": "file_search", "parameters": {}}}]


async def test_offered_the_search_function_it_searches_for_the_question() -> None:
    body = {"messages": [{"role": "user", "content": "where is it"}], "tools": SEARCH}
    choice = orjson.loads((await PROVIDER.answer(base.Call("chat", body, "m"))).body)["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    function = choice["message"]["tool_calls"][0]["function"]
    assert function["name"] == "file_search"
    assert orjson.loads(function["arguments"]) == {"queries": ["where is it"]}


def searched(output: str, call_name: str = "file_search") -> dict[str, object]:
    call = {"id": "call_1", "type": "function", "function": {"name": call_name, "arguments": "{}"}}
    return {
        "messages": [
            {"role": "user", "content": "where is it"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": output},
        ],
        "tools": SEARCH,
    }


async def test_after_the_search_it_names_and_cites_the_first_result() -> None:
    output = "[^3] notes.md\nthe text\n\n[^4] other.md\nmore"
    call = base.Call("chat", searched(output), "m")
    message = orjson.loads((await PROVIDER.answer(call)).body)["choices"][0]["message"]
    assert message["content"] == "Mock answer: notes.md holds it [^3]."
    empty = base.Call("chat", searched("The search found nothing in the files."), "m")
    message = orjson.loads((await PROVIDER.answer(empty)).body)["choices"][0]["message"]
    assert message["content"] == "Mock answer: the files hold nothing about that."


async def test_another_tools_output_or_a_refused_tool_choice_is_not_a_search() -> None:
    """The client's own tool results are echoed as usual, and `tool_choice: none` is obeyed."""
    body = searched("[^1] notes.md\ntext", call_name="lookup")
    body["tools"] = [*SEARCH, {"type": "function", "function": {"name": "lookup"}}]
    choice = orjson.loads((await PROVIDER.answer(base.Call("chat", body, "m"))).body)["choices"][0]
    assert choice["finish_reason"] == "tool_calls"  # searches for the question instead
    refused = {
        "messages": [{"role": "user", "content": "q"}],
        "tools": SEARCH,
        "tool_choice": "none",
    }
    choice = orjson.loads((await PROVIDER.answer(base.Call("chat", refused, "m"))).body)["choices"][
        0
    ]
    assert choice["message"]["content"] == "Mock answer: q"
