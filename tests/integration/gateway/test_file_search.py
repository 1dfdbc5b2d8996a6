"""The Responses API's `file_search` tool through a real gateway process, a real Weaviate node
and Redis, with the official `openai` SDK as the client, on every kind of upstream the gateway
asks (an OpenAI-compatible server through Chat Completions, one that speaks Responses, and
Anthropic): the stand-in model calls the search function the gateway offers, the gateway
searches the key's store and hands back numbered results, the model answers citing one, and the
client sees the `file_search_call` item and a `file_citation` annotation on the right file,
whole and streamed (the marker split across deltas), with every round and the query embeddings
charged to the key."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import openai
import pytest

from devcluster.redis import RedisServer
from fixtures import weaviate_node as weaviate_node_
from fixtures.upstreams import anthropic_server, gateway_process, keys, openai_server, routes
from fixtures.upstreams.gateway_process import model, pool, provider
from fixtures.upstreams.routes import STAND_INS, VIA_ANTHROPIC, VIA_CHAT, VIA_RESPONSES
from integration.sidecar import weaviate

OWNER = keys.key("owner")
OTHER = keys.key("other")
METERED = keys.key("metered")
CHAT_ONLY = keys.key("chat-only", models=[VIA_CHAT])
EMBEDDING = "mock-embedding"
PRICE = {"inputPerMillionTokens": "1", "outputPerMillionTokens": "1"}
PROMPT_TOKENS = {
    VIA_CHAT: openai_server.PROMPT_TOKENS,
    VIA_RESPONSES: openai_server.PROMPT_TOKENS,
    VIA_ANTHROPIC: anthropic_server.INPUT_TOKENS,
}
DOCS = {
    "tides.md": "# Tides\n\nThe moon's gravity pulls the oceans and makes the tides rise and fall.",
    "bread.txt": "Sourdough bread rises because wild yeast ferments the dough overnight.",
    "volcano.txt": "Basalt lava flows from shield volcanoes in Hawaii.",
}
QUESTION = "Why does sourdough bread rise overnight?"
ANSWER = "The answer is in bread.txt."
"""What the stand-in answers, its citation marker taken out (`common.search_turn`)."""


@pytest.fixture(scope="module")
def weaviate_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[weaviate.WeaviateNode]:
    with weaviate_node_.running(tmp_path_factory.mktemp("weaviate")) as node:
        yield node


@pytest.fixture(scope="module")
def served(
    weaviate_node: weaviate.WeaviateNode,
    redis_server: RedisServer,
    module_gateways: gateway_process.GatewayStarter,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[routes.Routes]:
    table: Path = tmp_path_factory.mktemp("keys") / "keys.yaml"
    with ExitStack() as stack:
        upstreams = routes.stand_ins(stack)
        pools = routes.pools(upstreams, PRICE)
        embedding = model(EMBEDDING, kinds=["embedding"])
        embedding["price"] = PRICE
        pools.append(pool("embed", [provider("mock", models=[embedding])]))
        gateway = module_gateways(
            {
                "auth": keys.write_table(table, OWNER, OTHER, METERED, CHAT_ONLY),
                "limits": {"store": {"type": "redis", "url": redis_server.url}},
                "providerPools": pools,
                "vectorStores": {
                    "url": weaviate_node.url,
                    "apiKeyFile": str(weaviate_node.key_file),
                    "embeddingModel": EMBEDDING,
                },
            }
        )
        yield routes.Routes(gateway, upstreams)


@pytest.fixture(scope="module")
def store(served: routes.Routes) -> dict[str, str]:
    """The owner's store of the three files: its id, and each file's id by name."""
    sdk = served.gateway.client(api_key=OWNER.plaintext)
    created = sdk.vector_stores.create(name="knowledge")
    ids = {"store": created.id}
    for name, text in DOCS.items():
        attached = sdk.vector_stores.files.upload_and_poll(
            vector_store_id=created.id, file=(name, io.BytesIO(text.encode()))
        )
        assert attached.status == "completed", attached.last_error
        ids[name] = attached.id
    return ids


@pytest.fixture
def fresh(served: routes.Routes) -> Iterator[routes.Routes]:
    served.reset()
    yield served
    served.reset()


def tool(store: dict[str, str]) -> openai.types.responses.FileSearchToolParam:
    return {"type": "file_search", "vector_store_ids": [store["store"]]}


def searched(sdk: openai.OpenAI, model_name: str, store: dict[str, str]) -> Any:
    """The question asked with the store's file_search, its results included."""
    return sdk.responses.create(
        model=model_name,
        input=QUESTION,
        tools=[tool(store)],
        include=["file_search_call.results"],
    )


def check_answer(output: list[Any], store: dict[str, str], *, results: bool) -> None:
    call, message = output
    assert call.type == "file_search_call"
    assert call.id.startswith("fs_")
    assert (call.status, call.queries) == ("completed", [QUESTION])
    if results:
        assert call.results, "include asked for the results"
        assert call.results[0].filename == "bread.txt"
        assert call.results[0].file_id == store["bread.txt"]
        assert "wild yeast" in call.results[0].text
        assert call.results[0].score > 0
    else:
        assert call.results is None
    assert message.type == "message"
    text = message.content[0]
    assert text.text == ANSWER
    assert [(a.type, a.file_id, a.filename, a.index) for a in text.annotations] == [
        ("file_citation", store["bread.txt"], "bread.txt", len(ANSWER) - 1)
    ]


@pytest.mark.parametrize("model_name", STAND_INS)
def test_a_whole_answer_searches_the_store_and_cites_the_file(
    fresh: routes.Routes, store: dict[str, str], model_name: str
) -> None:
    sdk = fresh.gateway.client(api_key=OWNER.plaintext)
    response = searched(sdk, model_name, store)
    assert response.status == "completed"
    check_answer(response.output, store, results=True)
    assert response.output_text == ANSWER
    posts = fresh.upstream(model_name).record.posts()
    assert len(posts) == 2, "one round that searched, one that answered"
    handed_back = json.dumps(posts[1].body)  # the results, numbered and named by their file
    assert "[^1] bread.txt\\nSourdough bread rises" in handed_back
    assert "file_search_call.results" not in str(posts[0].body.get("include"))
    offered = posts[0].body["tools"]
    assert [t.get("name") or t.get("function", {}).get("name") for t in offered] == ["file_search"]
    assert response.usage is not None
    assert response.usage.input_tokens == 2 * PROMPT_TOKENS[model_name]
    assert [t.type for t in response.tools] == ["file_search"]


def test_results_are_left_out_unless_asked_for(fresh: routes.Routes, store: dict[str, str]) -> None:
    sdk = fresh.gateway.client(api_key=OWNER.plaintext)
    response = sdk.responses.create(model=VIA_CHAT, input=QUESTION, tools=[tool(store)])
    check_answer(response.output, store, results=False)


@pytest.mark.parametrize("model_name", STAND_INS)
def test_a_streamed_answer_sends_the_search_then_the_cited_message(
    fresh: routes.Routes, store: dict[str, str], model_name: str
) -> None:
    sdk = fresh.gateway.client(api_key=OWNER.plaintext)
    events = list(
        sdk.responses.create(
            model=model_name,
            input=QUESTION,
            tools=[tool(store)],
            include=["file_search_call.results"],
            stream=True,
        )
    )
    assert [event.sequence_number for event in events] == list(range(len(events)))
    kinds = [event.type for event in events]
    assert kinds[:7] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.file_search_call.in_progress",
        "response.file_search_call.searching",
        "response.file_search_call.completed",
        "response.output_item.done",
    ]
    assert kinds[-1] == "response.completed"
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) > 3, "the stand-in streams the answer in small pieces"
    assert "".join(deltas) == ANSWER
    assert not any("[" in delta or "^" in delta for delta in deltas)
    added = [e for e in events if e.type == "response.output_text.annotation.added"]
    assert [e.output_index for e in added] == [1]
    final = events[-1].response  # type: ignore[union-attr]
    check_answer(final.output, store, results=True)
    assert final.usage is not None
    assert final.usage.input_tokens == 2 * PROMPT_TOKENS[model_name]


def test_another_keys_store_and_an_unknown_one_are_refused_before_any_model_is_asked(
    fresh: routes.Routes, store: dict[str, str]
) -> None:
    other = fresh.gateway.client(api_key=OTHER.plaintext)
    with pytest.raises(openai.NotFoundError) as refused:
        other.responses.create(model=VIA_CHAT, input=QUESTION, tools=[tool(store)])
    assert store["store"] in refused.value.message
    unknown = {"store": "vs_unknown"}
    with pytest.raises(openai.NotFoundError):
        other.responses.create(model=VIA_RESPONSES, input=QUESTION, tools=[tool(unknown)])
    assert not fresh.upstream(VIA_CHAT).record.posts()
    assert not fresh.upstream(VIA_RESPONSES).record.posts()


def test_a_key_that_may_not_embed_is_refused_before_any_model_is_asked(
    fresh: routes.Routes, store: dict[str, str]
) -> None:
    sdk = fresh.gateway.client(api_key=CHAT_ONLY.plaintext)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        sdk.responses.create(model=VIA_CHAT, input=QUESTION, tools=[tool(store)])
    assert EMBEDDING in refused.value.message
    assert not fresh.upstream(VIA_CHAT).record.posts()


def test_a_function_named_like_the_search_is_refused(
    fresh: routes.Routes, store: dict[str, str]
) -> None:
    sdk = fresh.gateway.client(api_key=OWNER.plaintext)
    own: openai.types.responses.FunctionToolParam = {
        "type": "function",
        "name": "file_search",
        "parameters": {"type": "object"},
        "strict": False,
    }
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.responses.create(model=VIA_CHAT, input=QUESTION, tools=[tool(store), own])
    assert refused.value.body["param"] == "tools[1].name"  # type: ignore[index]
    assert not fresh.upstream(VIA_CHAT).record.posts()


def test_every_round_and_the_query_embeddings_are_charged_to_the_key(
    fresh: routes.Routes, store: dict[str, str]
) -> None:
    gateway = fresh.gateway
    charged = {"runestone_key_id": METERED.id}
    sdk = gateway.client(api_key=METERED.plaintext)
    # The metered key searches the owner's store through its own: a store of its own, shared
    # by nobody, holding the same file.
    own = sdk.vector_stores.create(name="metered")
    sdk.vector_stores.files.upload_and_poll(
        vector_store_id=own.id, file=("bread.txt", io.BytesIO(DOCS["bread.txt"].encode()))
    )
    chat_before = gateway.metric(
        "runestone_cost_usd_total", gen_ai_request_model=VIA_CHAT, **charged
    )
    embedded_before = gateway.metric(
        "runestone_cost_usd_total", gen_ai_request_model=EMBEDDING, **charged
    )
    response = sdk.responses.create(model=VIA_CHAT, input=QUESTION, tools=[tool({"store": own.id})])
    assert response.usage is not None
    tokens = response.usage.input_tokens + response.usage.output_tokens
    assert response.usage.input_tokens == 2 * openai_server.PROMPT_TOKENS
    chat_spent = gateway.metric(
        "runestone_cost_usd_total", gen_ai_request_model=VIA_CHAT, **charged
    )
    assert chat_spent - chat_before == pytest.approx(tokens / 1_000_000)
    embedded = gateway.metric("runestone_cost_usd_total", gen_ai_request_model=EMBEDDING, **charged)
    assert embedded > embedded_before, "the query's embedding is the key's too"


def test_a_stored_answer_keeps_the_search_and_is_continued(
    fresh: routes.Routes, store: dict[str, str]
) -> None:
    sdk = fresh.gateway.client(api_key=OWNER.plaintext)
    first = searched(sdk, VIA_CHAT, store)
    kept = sdk.responses.retrieve(first.id)
    check_answer(kept.output, store, results=True)
    fresh.reset()
    second = sdk.responses.create(
        model=VIA_RESPONSES,
        previous_response_id=first.id,
        input="And what about the tides?",
        tools=[tool(store)],
    )
    assert second.output[0].type == "file_search_call"
    replayed = fresh.upstream(VIA_RESPONSES).record.posts()[0].body["input"]
    earlier = [item for item in replayed if item.get("name") == "file_search"]
    assert [item["type"] for item in earlier] == ["function_call"]
    outputs = [item for item in replayed if item.get("type") == "function_call_output"]
    assert "[^1] bread.txt" in outputs[0]["output"]
    # The search item itself, sent back as input, reaches a chat upstream as a call and output.
    fresh.reset()
    item = first.output[0].to_dict()
    third = sdk.responses.create(
        model=VIA_CHAT,
        input=[
            {"role": "user", "content": QUESTION},
            item,
            {"role": "user", "content": "Thanks."},
        ],
        store=False,
    )
    assert third.status == "completed"
    messages = fresh.upstream(VIA_CHAT).record.posts()[0].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "user"]
    assert messages[1]["tool_calls"][0]["function"]["name"] == "file_search"
    assert "bread.txt" in messages[2]["content"]


def test_file_search_needs_vector_stores_configured(
    start_gateway: gateway_process.GatewayStarter,
) -> None:
    with ExitStack() as stack:
        upstreams = routes.stand_ins(stack)
        gateway = start_gateway({"providerPools": routes.pools(upstreams)})
        with pytest.raises(openai.BadRequestError) as refused:
            gateway.client().responses.create(
                model=VIA_CHAT,
                input=QUESTION,
                tools=[{"type": "file_search", "vector_store_ids": ["vs_any"]}],
            )
        assert refused.value.code == "vector_stores_not_configured"
        assert not upstreams[VIA_CHAT].record.posts()
