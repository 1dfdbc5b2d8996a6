"""OpenAI's Responses API through the gateway, with the official `openai` SDK as the client,
against every kind of upstream: an OpenAI-compatible server speaking only Chat Completions
(translated), one speaking Responses (passed through), Anthropic (translated through chat) and
the mock; whole and streamed, function calling with `function_call_output`, structured output,
bad requests, and upstream failures before and after the first streamed byte.

This gateway has no shared store: answers say `"store": false` and what needs stored state is
refused saying what to configure (test_stored_responses.py has the store)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pydantic
import pytest

from fixtures.upstreams import gateway_process, routes
from fixtures.upstreams.responses_wire import RESPONSE_ID_PREFIX
from fixtures.upstreams.routes import (
    STAND_INS,
    VIA_ANTHROPIC,
    VIA_CHAT,
    VIA_MOCK,
    VIA_RESPONSES,
)

TOOLS: list[openai.types.responses.ToolParam] = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": False,
    }
]
ARGUMENTS = {"city": "Trondheim", "note": 'a "quoted" ünïcode'}
UPSTREAM_PATHS = {
    VIA_CHAT: "/v1/chat/completions",
    VIA_RESPONSES: "/v1/responses",
    VIA_ANTHROPIC: "/v1/messages",
}


@pytest.fixture(scope="module")
def four(module_gateways: gateway_process.GatewayStarter) -> Iterator[routes.Routes]:
    yield from routes.start(module_gateways)


@pytest.fixture
def served(four: routes.Routes) -> Iterator[routes.Routes]:
    four.reset()
    yield four
    four.reset()


def expected_text(model_name: str, served: routes.Routes, prompt: str) -> str:
    if model_name == VIA_MOCK:
        return f"Mock answer: {prompt}"
    return served.upstream(model_name).behaviour.text


@pytest.mark.parametrize("model_name", routes.MODELS)
def test_a_whole_answer(served: routes.Routes, model_name: str) -> None:
    client = served.gateway.client()
    response = client.responses.create(
        model=model_name,
        input="Weather in Trondheim?",
        instructions="Be brief.",
        max_output_tokens=100,
        metadata={"ticket": "42"},
    )
    assert response.status == "completed"
    assert response.output_text == expected_text(model_name, served, "Weather in Trondheim?")
    assert (
        response.to_dict()["store"] is False
    )  # no shared store: nothing is kept, and the answer says so
    assert response.instructions == "Be brief."
    assert response.usage is not None
    assert response.usage.input_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + (
        response.usage.output_tokens
    )
    if model_name == VIA_MOCK:
        return
    (received,) = served.upstream(model_name).record.posts()
    assert received.path == UPSTREAM_PATHS[model_name]
    assert received.body["model"] == routes.UPSTREAM_MODELS[model_name]
    if model_name == VIA_RESPONSES:
        # Passed through: the client's own request, but the gateway keeps responses.
        assert received.body["input"] == "Weather in Trondheim?"
        assert received.body["instructions"] == "Be brief."
        assert received.body["metadata"] == {"ticket": "42"}
        assert received.body["store"] is False
        assert response.id.startswith(RESPONSE_ID_PREFIX)
    elif model_name == VIA_CHAT:
        assert received.body["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Trondheim?"},
        ]
        assert received.body["max_completion_tokens"] == 100
    else:
        assert received.body["system"] == "Be brief."
        assert received.body["max_tokens"] == 100


@pytest.mark.parametrize("model_name", routes.MODELS)
def test_the_stream_helper_assembles_the_whole_answer(
    served: routes.Routes, model_name: str
) -> None:
    client = served.gateway.client()
    with client.responses.stream(model=model_name, input="Say it in parts") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    text = expected_text(model_name, served, "Say it in parts")
    assert len(deltas) > 1
    assert "".join(deltas) == final.output_text == text
    assert final.usage is not None
    assert final.usage.output_tokens > 0
    assert final.to_dict()["store"] is False
    if model_name in STAND_INS:
        (received,) = served.upstream(model_name).record.posts()
        assert received.path == UPSTREAM_PATHS[model_name]
        assert received.body["stream"] is True


@pytest.mark.parametrize("model_name", routes.MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_a_function_calling_round_trip(
    served: routes.Routes, model_name: str, stream: bool
) -> None:
    if model_name in STAND_INS:
        served.upstream(model_name).behaviour.tool_call = ("get_weather", ARGUMENTS)
    client = served.gateway.client()
    ask: list[Any] = [{"role": "user", "content": "Weather in Trondheim?"}]
    first: openai.types.responses.Response
    if stream:
        with client.responses.stream(
            model=model_name, input=ask, tools=TOOLS, tool_choice="required"
        ) as events:
            first = events.get_final_response()
    else:
        first = client.responses.create(
            model=model_name, input=ask, tools=TOOLS, tool_choice="required"
        )
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == ({} if model_name == VIA_MOCK else ARGUMENTS)

    # The result goes back with the whole conversation (this gateway stores nothing).
    if model_name in STAND_INS:
        served.upstream(model_name).behaviour.tool_call = None
    follow_up: list[Any] = [
        *ask,
        *[item.model_dump(exclude_none=True) for item in first.output],
        {"type": "function_call_output", "call_id": call.call_id, "output": "4 degrees, rain"},
    ]
    second = client.responses.create(model=model_name, input=follow_up, tools=TOOLS)
    assert second.output_text
    if model_name == VIA_MOCK:
        return
    sent = served.upstream(model_name).record.posts()[-1].body
    if model_name == VIA_CHAT:
        assert sent["messages"][-1] == {
            "role": "tool",
            "tool_call_id": call.call_id,
            "content": "4 degrees, rain",
        }
        assert sent["messages"][-2]["tool_calls"][0]["function"]["name"] == "get_weather"
    elif model_name == VIA_ANTHROPIC:
        assert sent["messages"][-1] == {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call.call_id, "content": "4 degrees, rain"}
            ],
        }
    else:
        assert sent["input"][-1]["type"] == "function_call_output"


class Weather(pydantic.BaseModel):
    city: str
    degrees: int


@pytest.mark.parametrize("model_name", STAND_INS)
def test_structured_output(served: routes.Routes, model_name: str) -> None:
    served.upstream(model_name).behaviour.text = '{"city": "Oslo", "degrees": 4}'
    client = served.gateway.client()
    parsed = client.responses.parse(model=model_name, input="Weather?", text_format=Weather)
    assert parsed.output_parsed == Weather(city="Oslo", degrees=4)
    sent = served.upstream(model_name).record.posts()[0].body
    if model_name == VIA_CHAT:
        assert sent["response_format"]["type"] == "json_schema"
        assert sent["response_format"]["json_schema"]["name"] == "Weather"
        assert sent["response_format"]["json_schema"]["schema"]["required"] == ["city", "degrees"]
    elif model_name == VIA_RESPONSES:
        assert sent["text"]["format"]["type"] == "json_schema"
        assert sent["text"]["format"]["name"] == "Weather"

    with client.responses.stream(model=model_name, input="Weather?", text_format=Weather) as s:
        streamed = s.get_final_response()
    assert streamed.output_parsed == Weather(city="Oslo", degrees=4)


@pytest.mark.parametrize("model_name", [VIA_CHAT, VIA_ANTHROPIC, VIA_MOCK])
@pytest.mark.parametrize(
    ("request_fields", "param"),
    [
        (
            {"input": [{"type": "message", "role": "user", "content": [{"type": "input_text"}]}]},
            "input[0].content[0].text",
        ),
        ({"input": [{"type": "comment", "text": "?"}]}, "input[0].type"),
        ({"input": "hi", "tools": [{"type": "web_search_preview"}]}, "tools[0].type"),
        (
            {
                "input": [{"type": "function_call_output", "call_id": "call_1", "output": "4"}],
            },
            "input[0].call_id",
        ),
        ({"input": "hi", "temperature": "warm"}, "temperature"),
        ({"input": "hi", "store": "yes"}, "store"),
    ],
)
def test_a_bad_request_is_a_400_naming_the_field(
    served: routes.Routes, model_name: str, request_fields: dict[str, Any], param: str
) -> None:
    client = served.gateway.client()
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=model_name, **request_fields)
    assert refused.value.status_code == 400
    assert refused.value.param == param
    assert refused.value.type == "invalid_request_error"
    if model_name in STAND_INS:
        assert served.upstream(model_name).record.posts() == []


def test_a_pass_through_route_leaves_the_request_to_the_upstream_but_its_shape(
    served: routes.Routes,
) -> None:
    client = served.gateway.client()
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=VIA_RESPONSES, extra_body={"input": 5})
    assert refused.value.param == "input"
    # Tools only a Responses upstream knows go through to it.
    client.responses.create(model=VIA_RESPONSES, input="hi", tools=[{"type": "web_search_preview"}])
    assert served.upstream(VIA_RESPONSES).record.posts()[0].body["tools"] == [
        {"type": "web_search_preview"}
    ]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"store": True}, "store"),
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]"),
    ],
)
def test_stored_state_without_a_shared_store_is_a_400_saying_what_to_configure(
    served: routes.Routes, fields: dict[str, Any], param: str
) -> None:
    client = served.gateway.client()
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=VIA_CHAT, **{"input": "hi", **fields})
    assert refused.value.param == param
    assert refused.value.code == "no_shared_store"
    assert "rateLimitStore" in refused.value.message
    for call in (
        lambda: client.responses.retrieve("resp_1"),
        lambda: client.responses.input_items.list("resp_1"),
        lambda: client.responses.delete("resp_1"),
    ):
        with pytest.raises(openai.BadRequestError) as refused:
            call()
        assert refused.value.code == "no_shared_store"
    assert served.upstream(VIA_CHAT).record.posts() == []


@pytest.mark.parametrize("model_name", STAND_INS)
@pytest.mark.parametrize("stream", [False, True])
def test_an_upstream_error_before_the_first_byte_is_an_http_error(
    served: routes.Routes, model_name: str, stream: bool
) -> None:
    served.upstream(model_name).behaviour.status = 500
    client = served.gateway.client()

    def ask() -> None:
        if stream:
            with client.responses.stream(model=model_name, input="hi") as events:
                list(events)
        else:
            client.responses.create(model=model_name, input="hi")

    with pytest.raises(openai.InternalServerError) as failed:
        ask()
    assert failed.value.status_code == 502
    assert failed.value.code == "upstream_failed"


@pytest.mark.parametrize("model_name", STAND_INS)
def test_an_upstream_error_after_the_first_byte_ends_the_stream_with_response_failed(
    served: routes.Routes, model_name: str
) -> None:
    served.upstream(model_name).behaviour.break_after_first = True
    client = served.gateway.client()
    with client.responses.stream(model=model_name, input="hi") as stream:
        events = list(stream)
    assert events[0].type == "response.created"
    last = events[-1]
    assert last.type == "response.failed"
    assert last.response.status == "failed"
    assert last.response.error is not None
    assert last.response.error.code == "server_error"
    assert [event.sequence_number for event in events] == list(range(len(events)))


def test_the_mock_serves_responses_without_any_upstream(served: routes.Routes) -> None:
    """The mock answers chat; the Responses endpoint reaches it through the translation."""
    raw = httpx.post(
        f"{served.gateway.base_url}/responses",
        headers={"authorization": f"Bearer {served.gateway.api_key}"},
        json={"model": VIA_MOCK, "input": [{"role": "user", "content": "one two"}]},
        timeout=30,
    )
    assert raw.status_code == 200
    body = raw.json()
    assert body["object"] == "response"
    assert body["model"] == VIA_MOCK
    assert body["output"][0]["content"][0]["text"] == "Mock answer: one two"
