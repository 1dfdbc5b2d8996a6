"""The Responses endpoint's plan: what needs the shared store and what it says without one,
continuing only one's own responses, checks by the translation only where a route translates,
the request a Responses upstream gets, and stored records as `input_items` lists them."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from runestone_gateway import config, errors
from runestone_gateway.admission import auth
from runestone_gateway.api import plans, responses, stored
from runestone_gateway.failover import breaker, routing, window
from runestone_gateway.providers import base, mock
from runestone_gateway.state import responses as stored_
from runestone_gateway.translate import usage

OWNER = auth.generated("0" * 64)
OTHER = auth.principal(config.KeyTableEntry(id="other", sha256="1" * 64))


class Memory(stored_.Store):
    """A store in this test's memory (the gateway only ever has Redis)."""

    def __init__(self) -> None:
        self.records: dict[str, stored_.Stored] = {}

    async def get(self, response_id: str) -> stored_.Stored | None:
        return self.records.get(response_id)

    async def put(self, stored: stored_.Stored, retention_seconds: float) -> None:
        self.records[stored.id] = stored

    async def items(self, item_ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        return {
            str(item["id"]): (record.owner, item)
            for record in self.records.values()
            for item in record.items()
            if item["id"] in item_ids
        }

    async def delete(self, stored: stored_.Stored) -> bool:
        return self.records.pop(stored.id, None) is not None


class Serving:
    def __init__(self, store: stored_.Store | None) -> None:
        self.config = config.mock_config()
        self.responses = store


class Upstream(mock.MockProvider):
    """A provider whose config says which API it speaks."""


def route(*apis: config.UpstreamApi) -> routing.Route:
    targets = []
    for index, api in enumerate(apis):
        spec = config.Provider.model_validate(
            {
                "name": f"p{index}",
                "type": "openai",
                "baseURL": "http://up.test/v1",
                "api": api,
                "models": [{"name": "m"}],
            }
        )
        targets.append(
            routing.Target(
                pool="p",
                provider=Upstream(spec),
                model=spec.models[0],
                priority=index,
                weight=100,
                price=0.0,
                breaker=breaker.CircuitBreaker(config.CircuitBreaker()),
                latency=routing.Ewma(),
                health=routing.Health(),
                window=window.Window(),
            )
        )
    return routing.build_route("m", "p", "weighted", targets)


async def plan(
    body: dict[str, Any],
    *apis: config.UpstreamApi,
    store: stored_.Store | None = None,
    who: Any = OWNER,
) -> responses.ResponsesPlan:
    request = responses.check(orjson.dumps({"model": "m", **body}))
    return await responses.plan(request, route(*apis), who, Serving(store), {"headers": []})


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi", "store": True}, "store"),
        ({"previous_response_id": "r"}, "previous_response_id"),
    ],
)
async def test_without_a_shared_store_stored_state_is_a_400_saying_what_to_configure(
    body: dict[str, Any], param: str
) -> None:
    with pytest.raises(errors.GatewayError) as refused:
        await plan(body, "chatCompletions")
    assert (refused.value.status, refused.value.param) == (400, param)
    assert "rateLimitStore: {type: redis" in refused.value.message


async def test_store_defaults_to_true_with_a_shared_store_and_false_without() -> None:
    assert (await plan({"input": "hi"}, "chatCompletions")).context.echo["store"] is False
    kept = await plan({"input": "hi"}, "chatCompletions", store=Memory())
    assert kept.context.echo["store"] is True
    unkept = await plan({"input": "hi", "store": False}, "chatCompletions", store=Memory())
    assert unkept.context.echo["store"] is False


async def test_a_response_is_continued_only_by_the_key_that_made_it() -> None:
    memory = Memory()
    record = stored_.Stored(
        owner=OWNER.scope,
        response={
            "id": "resp_1",
            "output": [
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "A"}],
                }
            ],
        },
        input=[{"type": "message", "role": "user", "content": "Q"}],
    )
    await memory.put(record, 60)
    continued = await plan(
        {"input": "next", "previous_response_id": "resp_1"}, "chatCompletions", store=memory
    )
    assert continued.chat is not None
    assert [m["role"] for m in continued.chat["messages"]] == ["user", "assistant", "user"]
    with pytest.raises(errors.GatewayError) as refused:
        await plan(
            {"input": "next", "previous_response_id": "resp_1"},
            "chatCompletions",
            store=memory,
            who=OTHER,
        )
    assert (refused.value.status, refused.value.code) == (400, "previous_response_not_found")
    assert refused.value.param == "previous_response_id"


async def test_only_a_route_that_translates_checks_with_the_translation() -> None:
    built_in = {"input": "hi", "tools": [{"type": "web_search_preview"}]}
    with pytest.raises(errors.GatewayError) as refused:
        await plan(built_in, "responses", "chatCompletions")  # one tier translates
    assert refused.value.param == "tools[0].type"
    through = await plan(built_in, "responses")
    assert through.chat is None
    assert through.call(route("responses").tiers[0][0]).api == "responses"
    with pytest.raises(errors.GatewayError) as shapeless:
        await plan({"input": 5}, "responses")
    assert shapeless.value.param == "input"


async def test_a_responses_upstream_gets_the_earlier_items_and_keeps_nothing() -> None:
    memory = Memory()
    earlier: list[dict[str, Any]] = [
        {"id": "msg_1", "type": "message", "role": "user", "content": "Q"},
        {"id": "rs_1", "type": "reasoning", "summary": []},
        {
            "id": "msg_2",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "A"}],
        },
    ]
    await memory.put(
        stored_.Stored(
            owner=OWNER.scope, response={"id": "resp_1", "output": earlier[1:]}, input=earlier[:1]
        ),
        60,
    )
    continued = await plan(
        {"input": "next", "previous_response_id": "resp_1", "store": True},
        "responses",
        store=memory,
    )
    sent = continued.native_body()
    assert "previous_response_id" not in sent
    assert sent["store"] is False
    assert sent["input"] == [
        {"type": "message", "role": "user", "content": "Q"},
        {
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "A"}],
        },
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "next"}]},
    ]


async def test_a_whole_answer_is_stored_with_its_input_items_and_history() -> None:
    memory = Memory()
    made = await plan(
        {"input": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
        "chatCompletions",
        store=memory,
    )
    chat_answer = {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }
    target = route("chatCompletions").tiers[0][0]
    body = orjson.loads(
        await made.whole(target, base.Answer(orjson.dumps(chat_answer), usage.Usage(3, 1)))
    )
    assert body["store"] is True
    record = memory.records[body["id"]]
    assert record.owner == OWNER.scope
    assert record.response == body
    assert [item["type"] for item in record.input] == ["message", "message"]
    assert record.input[0]["id"].startswith("msg_")
    assert record.input[0]["content"] == [{"type": "input_text", "text": "hi"}]
    assert record.input[1]["content"] == [{"type": "output_text", "text": "yo"}]
    assert stored_.Stored.from_bytes(record.to_bytes()) == record


async def test_an_item_reference_is_the_keys_own_stored_item_in_its_place() -> None:
    memory = Memory()
    said = {
        "id": "msg_said",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "Let me look."}],
    }
    await memory.put(
        stored_.Stored(owner=OWNER.scope, response={"id": "resp_1", "output": [said]}), 60
    )
    body = {
        "input": [
            {"role": "user", "content": "Weather?"},
            {"type": "item_reference", "id": "msg_said"},
            {"role": "user", "content": "Well?"},
        ]
    }
    made = await plan(body, "chatCompletions", store=memory)
    assert made.chat is not None
    assert made.chat["messages"][1] == {"role": "assistant", "content": "Let me look."}
    through = await plan(body, "responses", store=memory)
    assert through.native_body()["input"][1] == {k: v for k, v in said.items() if k != "id"}

    for who, store, param in ((OTHER, memory, "input[1].id"), (OWNER, None, "input[1]")):
        with pytest.raises(errors.GatewayError) as refused:
            await plan(body, "chatCompletions", store=store, who=who)
        assert (refused.value.status, refused.value.param) == (400, param)


def page(items: int, **query: str) -> dict[str, Any]:
    listed = [{"id": f"item_{n}", "type": "message"} for n in range(items)]
    return stored._page(listed, {name: [value] for name, value in query.items()})


def test_input_items_are_listed_newest_first_in_pages() -> None:
    first = page(25)
    assert [item["id"] for item in first["data"]][:2] == ["item_24", "item_23"]
    assert (len(first["data"]), first["has_more"], first["last_id"]) == (20, True, "item_5")
    rest = page(25, after="item_5")
    assert [item["id"] for item in rest["data"]] == [f"item_{n}" for n in range(4, -1, -1)]
    assert rest["has_more"] is False
    assert [i["id"] for i in page(3, order="asc", limit="2")["data"]] == ["item_0", "item_1"]
    for bad in ({"order": "up"}, {"limit": "0"}, {"limit": "101"}, {"after": "item_9"}):
        with pytest.raises(errors.GatewayError) as refused:
            page(3, **bad)
        assert refused.value.param == next(iter(bad))


def test_a_plan_speaks_what_its_targets_speak() -> None:
    assert plans.translates(route("responses", "chatCompletions"), "responses")
    assert not plans.translates(route("responses", "responses"), "responses")
