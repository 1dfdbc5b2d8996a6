"""Stored responses in the shared store: two gateway processes on one real Redis, the official
`openai` SDK as the client. A response made through one replica is continued
(`previous_response_id`), read, listed and deleted through the other; only the key that made it
can; it expires with the Gateway's retention; nothing is kept in a replica's memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import openai
import pytest
import redis

from devcluster.redis import RedisServer
from fixtures.upstreams import gateway_process, keys, routes
from fixtures.upstreams.responses_wire import RESPONSE_ID_PREFIX
from fixtures.upstreams.routes import STAND_INS, VIA_ANTHROPIC, VIA_CHAT, VIA_MOCK, VIA_RESPONSES

OWNER = keys.key("owner")
OTHER = keys.key("other")
RETENTION_SECONDS = 3600
TOOLS: list[openai.types.responses.ToolParam] = [
    {"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": False}
]


@pytest.fixture(scope="module")
def replicas(
    redis_server: RedisServer,
    module_gateways: gateway_process.GatewayStarter,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[routes.Routes, gateway_process.GatewayProcess]]:
    """Two gateways (replicas of one Gateway) on the same stand-ins, keys and Redis."""
    table: Path = tmp_path_factory.mktemp("keys") / "keys.yaml"
    with ExitStack() as stack:
        upstreams = routes.stand_ins(stack)
        document = {
            "auth": keys.write_table(table, OWNER, OTHER),
            "limits": {"store": {"type": "redis", "url": redis_server.url}},
            "storedResponses": {"retentionSeconds": RETENTION_SECONDS},
            "providerPools": routes.pools(upstreams),
        }
        first = module_gateways(document)
        second = module_gateways(document)
        yield routes.Routes(first, upstreams), second


@pytest.fixture
def served(
    replicas: tuple[routes.Routes, gateway_process.GatewayProcess],
) -> Iterator[tuple[routes.Routes, gateway_process.GatewayProcess]]:
    replicas[0].reset()
    yield replicas
    replicas[0].reset()


def clients(
    served: tuple[routes.Routes, gateway_process.GatewayProcess], key: keys.Key = OWNER
) -> tuple[openai.OpenAI, openai.OpenAI]:
    four, second = served
    return (
        four.gateway.client(api_key=key.plaintext),
        second.client(api_key=key.plaintext),
    )


@pytest.mark.parametrize("model_name", routes.MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_previous_response_id_across_two_replicas(
    served: tuple[routes.Routes, gateway_process.GatewayProcess], model_name: str, stream: bool
) -> None:
    four, _ = served
    one, two = clients(served)
    first: openai.types.responses.Response
    if stream:
        with one.responses.stream(
            model=model_name, input="My name is Ada.", instructions="Be brief."
        ) as events:
            first = events.get_final_response()
    else:
        first = one.responses.create(
            model=model_name, input="My name is Ada.", instructions="Be brief."
        )
    assert (
        first.to_dict()["store"] is True
    )  # stored by default, as OpenAI does, with a shared store

    second = two.responses.create(
        model=model_name, input="What is my name?", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    assert second.output_text
    if model_name == VIA_MOCK:
        assert second.output_text == "Mock answer: What is my name?"
        return
    sent = four.upstream(model_name).record.posts()[-1].body
    first_answer = first.output_text
    if model_name == VIA_CHAT:
        # Instructions are not carried over, as in OpenAI's API; the earlier turns are.
        assert sent["messages"] == [
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": first_answer},
            {"role": "user", "content": "What is my name?"},
        ]
    elif model_name == VIA_ANTHROPIC:
        assert [turn["role"] for turn in sent["messages"]] == ["user", "assistant", "user"]
        assert "system" not in sent
    else:
        # The upstream keeps nothing (store: false): it gets the earlier items themselves.
        assert "previous_response_id" not in sent
        assert sent["store"] is False
        assert sent["input"][0] == {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "My name is Ada."}],
        }
        assert sent["input"][1]["type"] == "message"
        assert sent["input"][1]["role"] == "assistant"
        assert "id" not in sent["input"][1]
        assert sent["input"][-1]["content"][0]["text"] == "What is my name?"


@pytest.mark.parametrize("model_name", [VIA_CHAT, VIA_RESPONSES])
def test_a_function_call_continued_with_its_output_only(
    served: tuple[routes.Routes, gateway_process.GatewayProcess], model_name: str
) -> None:
    four, _ = served
    upstream = four.upstream(model_name)
    upstream.behaviour.tool_call = ("get_weather", {"city": "Oslo"})
    one, two = clients(served)
    first = one.responses.create(
        model=model_name, input="Weather in Oslo?", tools=TOOLS, tool_choice="required"
    )
    (call,) = first.output
    assert call.type == "function_call"
    upstream.behaviour.tool_call = None
    second = two.responses.create(
        model=model_name,
        previous_response_id=first.id,
        tools=TOOLS,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "4 degrees"}],
    )
    assert second.output_text == upstream.behaviour.text
    sent = upstream.record.posts()[-1].body
    if model_name == VIA_CHAT:
        assert sent["messages"][-2]["tool_calls"][0]["id"] == call.call_id
        assert sent["messages"][-1] == {
            "role": "tool",
            "tool_call_id": call.call_id,
            "content": "4 degrees",
        }
    else:
        assert [item.get("type") for item in sent["input"]] == [
            "message",
            "function_call",
            "function_call_output",
        ]


def test_retrieve_input_items_and_delete_on_the_other_replica(
    served: tuple[routes.Routes, gateway_process.GatewayProcess], redis_server: RedisServer
) -> None:
    one, two = clients(served)
    made = one.responses.create(
        model=VIA_CHAT,
        input=[
            {"role": "developer", "content": "Answer in English."},
            {"role": "user", "content": [{"type": "input_text", "text": "Hello"}]},
        ],
    )
    read = two.responses.retrieve(made.id)
    assert read.id == made.id
    assert read.output_text == made.output_text
    assert read.usage == made.usage

    items = two.responses.input_items.list(made.id)
    assert [item.type for item in items.data] == ["message", "message"]
    assert [getattr(item, "role", None) for item in items.data] == ["user", "developer"]
    oldest_first = two.responses.input_items.list(made.id, order="asc", limit=1)
    assert [getattr(item, "role", None) for item in oldest_first.data] == ["developer"]
    assert oldest_first.has_more is True
    assert all(item.id for item in items.data)

    ttl = redis.Redis.from_url(redis_server.url).ttl(f"runestone:response:{made.id}")
    assert 0 < ttl <= RETENTION_SECONDS

    two.responses.delete(made.id)
    with pytest.raises(openai.NotFoundError):
        one.responses.retrieve(made.id)
    reference: Any = {"type": "item_reference", "id": made.output[0].id}
    with pytest.raises(openai.BadRequestError) as forgotten:  # its items went with it
        one.responses.create(model=VIA_CHAT, input=[reference])
    assert forgotten.value.code == "item_not_found"
    with pytest.raises(openai.BadRequestError) as refused:
        one.responses.create(model=VIA_CHAT, input="again", previous_response_id=made.id)
    assert refused.value.code == "previous_response_not_found"


def test_another_key_gets_404_as_for_a_missing_id(
    served: tuple[routes.Routes, gateway_process.GatewayProcess],
) -> None:
    one, _ = clients(served)
    _, intruder = clients(served, OTHER)
    made = one.responses.create(model=VIA_CHAT, input="secret")
    for response_id in (made.id, "resp_does_not_exist"):
        for call in (
            intruder.responses.retrieve,
            intruder.responses.input_items.list,
            intruder.responses.delete,
        ):
            with pytest.raises(openai.NotFoundError) as missing:
                call(response_id)
            assert missing.value.body == {
                "message": f"Response with id {response_id!r} not found.",
                "type": "invalid_request_error",
                "param": None,
                "code": "response_not_found",
            }
        with pytest.raises(openai.BadRequestError) as refused:
            intruder.responses.create(
                model=VIA_CHAT, input="continue", previous_response_id=response_id
            )
        assert refused.value.param == "previous_response_id"
        assert refused.value.code == "previous_response_not_found"
    assert one.responses.retrieve(made.id).id == made.id  # still there for its owner


def test_store_false_keeps_nothing(
    served: tuple[routes.Routes, gateway_process.GatewayProcess],
) -> None:
    one, two = clients(served)
    unkept = one.responses.create(model=VIA_CHAT, input="forget me", store=False)
    assert unkept.to_dict()["store"] is False
    with pytest.raises(openai.NotFoundError):
        two.responses.retrieve(unkept.id)


def test_a_streamed_response_is_readable_on_the_other_replica_when_its_last_event_arrives(
    served: tuple[routes.Routes, gateway_process.GatewayProcess],
) -> None:
    one, two = clients(served)
    with one.responses.stream(model=VIA_RESPONSES, input="kept") as stream:
        for event in stream:
            if event.type == "response.completed":
                # Read through the other replica while this stream is still open.
                assert two.responses.retrieve(event.response.id).status == "completed"
        final = stream.get_final_response()
    assert final.to_dict()["store"] is True
    assert final.id.startswith(RESPONSE_ID_PREFIX)  # the upstream's own id, unique


def test_the_stored_record_names_its_key_and_holds_no_secret(
    served: tuple[routes.Routes, gateway_process.GatewayProcess], redis_server: RedisServer
) -> None:
    one, _ = clients(served)
    made = one.responses.create(model=VIA_MOCK, input="hello")
    raw = redis.Redis.from_url(redis_server.url).get(f"runestone:response:{made.id}")
    assert isinstance(raw, bytes)
    record: dict[str, Any] = json.loads(raw)
    assert record["owner"] == "/owner"
    assert OWNER.plaintext not in raw.decode()
    assert record["input"][0]["content"] == [{"type": "input_text", "text": "hello"}]


@pytest.mark.parametrize("model_name", STAND_INS)
def test_a_failed_continuation_charges_and_calls_nothing(
    served: tuple[routes.Routes, gateway_process.GatewayProcess], model_name: str
) -> None:
    four, _ = served
    one, _ = clients(served)
    with pytest.raises(openai.BadRequestError):
        one.responses.create(model=model_name, input="x", previous_response_id="resp_nope")
    assert four.upstream(model_name).record.posts() == []


@pytest.mark.parametrize("model_name", [VIA_CHAT, VIA_RESPONSES])
def test_an_item_reference_names_an_item_of_the_keys_own_stored_response(
    served: tuple[routes.Routes, gateway_process.GatewayProcess], model_name: str
) -> None:
    """As the Vercel AI SDK sends earlier assistant text: by the id of its item."""
    four, _ = served
    one, two = clients(served)
    first = one.responses.create(model=model_name, input="Say something.")
    (said,) = first.output
    assert said.id
    follow_up: list[Any] = [
        {"role": "user", "content": "Say something."},
        {"type": "item_reference", "id": said.id},
        {"role": "user", "content": "And again?"},
    ]
    two.responses.create(model=model_name, input=follow_up)
    sent = four.upstream(model_name).record.posts()[-1].body
    if model_name == VIA_CHAT:
        assert sent["messages"][1] == {"role": "assistant", "content": first.output_text}
    else:
        assert sent["input"][1]["type"] == "message"
        assert sent["input"][1]["content"][0]["text"] == first.output_text
        assert "id" not in sent["input"][1]

    _, intruder = clients(served, OTHER)
    with pytest.raises(openai.BadRequestError) as refused:
        intruder.responses.create(model=model_name, input=follow_up)
    assert (refused.value.param, refused.value.code) == ("input[1].id", "item_not_found")
