"""The Responses API's `file_search` tool, run by the gateway for every kind of upstream.

The model decides what to search for, as with OpenAI: it is offered a function of the tool's
name (`translate.file_search`), and when it calls it the gateway searches the named vector
stores (the caller's own, checked before any model is asked), hands the numbered results back
as the call's output and asks again. A model that keeps searching is asked at most
`SEARCH_ROUNDS` times with the function offered, then once with `tool_choice: none`. A streamed
answer searches once (`STREAMED_SEARCH_ROUNDS`) and then streams the answering round; a model
that answers in a round that offered the function has answered whole, and that answer is sent
as the event sequence a stream would have carried. Every round, and every query's embedding,
is charged to the calling key; the response's usage is the rounds' sum.

A provider that speaks Responses gets the same function (it cannot see the gateway's stores),
its calls answered with `function_call_output` items; earlier `file_search_call` items reach
every upstream as the function's calls and outputs."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from runestone_gateway.admission import auth
from runestone_gateway.api import asgi, passthrough, plans, responses, streaming, validate
from runestone_gateway.failover import routing
from runestone_gateway.providers import base
from runestone_gateway.retrieval import serving
from runestone_gateway.translate import chat, checks, file_search, file_search_stream, ids
from runestone_gateway.translate import usage as usage_

if TYPE_CHECKING:
    from runestone_gateway.retrieval import app as retrieval_app

SEARCH_ROUNDS = 3
STREAMED_SEARCH_ROUNDS = 1
RETRIEVAL = "runestone.retrieval_source"
"""The scope key of what gives the process's files and vector stores (`Source`)."""


class Source(Protocol):
    @property
    def retrieval(self) -> retrieval_app.Retrieval: ...


async def plan(
    request: validate.Request,
    route: routing.Route,
    who: auth.Principal,
    current: plans.Serving,
    scope: asgi.Scope,
) -> plans.Plan:
    """The Responses plan, searching for the model when the request has a file_search tool."""
    planned = await responses.plan(request, route, who, current, scope)
    try:
        settings = file_search.settings(planned.body)
    except checks.TranslationError as error:
        raise plans.invalid(error) from None
    if settings is None:
        return planned
    if current.config.vector_stores is None:
        raise serving.not_configured()
    source: Source = scope[RETRIEVAL]
    from runestone_gateway.retrieval import tool  # loads the retrieval app: only when needed

    retrieval = source.retrieval
    await tool.check_stores(retrieval, who, settings.vector_store_ids, settings.filters)
    return FileSearchPlan(planned, settings, retrieval, who)


@dataclasses.dataclass
class Rounds:
    """What one attempt's searching rounds gave."""

    request: dict[str, Any]
    """The upstream request with every round so far in it (chat's, or the Responses API's)."""
    calls: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """The `file_search_call` items, in order."""
    sources: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """Every result handed to the model; marker `[^n]` names the n-th."""
    usage: usage_.Usage = dataclasses.field(default_factory=lambda: usage_.Usage(0, 0))
    answer: base.Answer | None = None
    """The model's answer, when it gave one in a round that offered the search."""


class FileSearchPlan(plans.Plan):
    def __init__(
        self,
        inner: responses.ResponsesPlan,
        settings: file_search.Settings,
        retrieval: retrieval_app.Retrieval,
        who: auth.Principal,
    ) -> None:
        super().__init__(inner.estimate)
        self.inner = inner
        self.settings = settings
        self.retrieval = retrieval
        self.who = who
        self.echo = {
            "tools": inner.body.get("tools") or [],
            "tool_choice": inner.body.get("tool_choice") or "auto",
        }
        self._rounds: Rounds | None = None
        self._replayed = False

    def call(self, target: routing.Target) -> base.Call:
        return self.inner.call(target)

    async def ask(self, target: routing.Target) -> base.Answer:
        rounds = await self._search(target, SEARCH_ROUNDS)
        answer = rounds.answer
        if answer is None:
            answer = await target.provider.answer(self._answering(target, rounds, stream=False))
            _count(rounds, answer.usage)
        return base.Answer(answer.body, rounds.usage)

    async def whole(self, target: routing.Target, answer: base.Answer) -> bytes:
        return await self.inner.finish(self._response(target, answer))

    async def open(self, target: routing.Target) -> streaming.Opened:
        rounds = await self._search(target, STREAMED_SEARCH_ROUNDS)
        self._replayed = rounds.answer is not None
        if rounds.answer is None:
            return await streaming.open_stream(target, self._answering(target, rounds, stream=True))
        events = file_search_stream.replayed(self._response(target, rounds.answer))
        return base.EventStream(_nothing(), base.UsageMeter()), events

    def shaper(self, target: routing.Target) -> plans.Shaper:
        if self._replayed:  # the events of the finished response, relayed as they are
            return passthrough.ResponsesPassthrough(**self.inner.echo())
        rounds = self._rounds
        assert rounds is not None
        inner = self.inner.shaper(target)
        return file_search_stream.CitingShaper(
            inner, rounds.calls, rounds.sources, rounds.usage, self.echo
        )

    async def kept(self, shaper: plans.Shaper) -> None:
        await self.inner.kept(shaper)

    def _response(self, target: routing.Target, answer: base.Answer) -> dict[str, Any]:
        """The response object of the answering round, with the searches in it."""
        rounds = self._rounds
        assert rounds is not None
        response = self.inner.shaped(target, answer)
        output = response.get("output")
        response["output"] = file_search.answered(
            output if isinstance(output, list) else [], rounds.calls, rounds.sources
        )
        response["usage"] = usage_.to_responses(rounds.usage)
        response.update(self.echo)
        return response

    async def _search(self, target: routing.Target, limit: int) -> Rounds:
        """Ask the model with the search offered, and search for it, until it answers or has
        searched `limit` times."""
        first = self.inner.call(target)
        native = self.inner.passes_through(target)
        rounds = self._rounds = Rounds(_searching_request(first.body, native))
        for _ in range(limit):
            call = dataclasses.replace(first, body=rounds.request, include_usage=False)
            answer = await target.provider.answer(call)
            _count(rounds, answer.usage)
            upstream = plans.json_answer(answer, target.provider_name)
            turn, searches = (_native_turn if native else _chat_turn)(upstream)
            if not searches or len(searches) < _calls_in(turn, native):
                # It answered, or called a function of the client's: that goes to the client.
                rounds.answer = answer
                return rounds
            outputs = [await self._run(rounds, arguments) for _, arguments in searches]
            _continue(rounds.request, turn, [call_id for call_id, _ in searches], outputs, native)
        return rounds

    async def _run(self, rounds: Rounds, arguments: str) -> str:
        """One call's search: its item noted, its results as the model reads them."""
        from runestone_gateway.retrieval import tool

        settings = self.settings
        queries = file_search.queries(arguments)
        found: list[dict[str, Any]] = []
        if queries:
            found = await tool.search(
                self.retrieval,
                self.who,
                settings.vector_store_ids,
                queries,
                max_num_results=settings.max_num_results,
                where=settings.filters,
                score_threshold=settings.score_threshold,
            )
        results = file_search.item_results(found) if settings.include_results else None
        rounds.calls.append(
            file_search.call_item(ids.file_search_call(), queries, results, "completed")
        )
        if not queries:
            return file_search.no_queries_text()
        text = file_search.results_text(found, len(rounds.sources) + 1)
        rounds.sources += found
        return text

    def _answering(self, target: routing.Target, rounds: Rounds, *, stream: bool) -> base.Call:
        """The round that answers: the searches done, the function no longer to be called."""
        body = {**rounds.request, "tool_choice": "none"}
        native = self.inner.passes_through(target)
        if stream:
            body["stream"] = True
            if not native:
                body["stream_options"] = {"include_usage": True}
        return dataclasses.replace(self.inner.call(target), body=body, include_usage=not native)


def _count(rounds: Rounds, used: base.Usage | None) -> None:
    if used is not None:
        rounds.usage = usage_.add(rounds.usage, used)


def _searching_request(body: dict[str, Any], native: bool) -> dict[str, Any]:
    """The upstream request of the searching rounds: whole answers, the function offered."""
    request = {key: value for key, value in body.items() if key not in ("stream", "stream_options")}
    if not native:
        return request
    request["tools"] = [
        file_search.native_tool()
        if isinstance(tool, dict) and tool.get("type") == "file_search"
        else tool
        for tool in request.get("tools") or []
    ]
    choice = request.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "file_search":
        request["tool_choice"] = {"type": "function", "name": file_search.NAME}
    include = request.get("include")
    if isinstance(include, list):
        request["include"] = [entry for entry in include if entry != file_search.RESULTS_INCLUDE]
    given = request.get("input")
    if isinstance(given, str):
        request["input"] = [{"role": "user", "content": given}]
    return request


Searches = list[tuple[str, str]]
"""The model's calls of the search function in one round: (call id, arguments)."""


def _chat_turn(answer: dict[str, Any]) -> tuple[dict[str, Any], Searches]:
    reply = chat.reply(answer)
    calls = [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        for call in reply.tool_calls
    ]
    turn: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "tool_calls": calls}
    searches = [(c.id, c.arguments) for c in reply.tool_calls if c.name == file_search.NAME]
    return turn, searches


def _native_turn(answer: dict[str, Any]) -> tuple[dict[str, Any], Searches]:
    output = answer.get("output")
    items = [item for item in output if isinstance(item, dict)] if isinstance(output, list) else []
    searches = [
        (str(item.get("call_id") or ""), str(item.get("arguments") or ""))
        for item in items
        if file_search.is_search_call(item)
    ]
    return {"items": responses.replayable(items)}, searches


def _calls_in(turn: dict[str, Any], native: bool) -> int:
    if native:
        return sum(1 for item in turn["items"] if item.get("type") == "function_call")
    return len(turn["tool_calls"])


def _continue(
    request: dict[str, Any],
    turn: dict[str, Any],
    call_ids: Sequence[str],
    outputs: Sequence[str],
    native: bool,
) -> None:
    """The request of the next round: this round's calls and their outputs appended; a choice
    that forced a search is one no longer (the model may now answer)."""
    if native:
        results = [
            {"type": "function_call_output", "call_id": call_id, "output": output}
            for call_id, output in zip(call_ids, outputs, strict=True)
        ]
        request["input"] = [*request["input"], *turn["items"], *results]
    else:
        results = [
            {"role": "tool", "tool_call_id": call_id, "content": output}
            for call_id, output in zip(call_ids, outputs, strict=True)
        ]
        request["messages"] = [*request["messages"], turn, *results]
    if request.get("tool_choice") not in (None, "auto", "none"):
        request["tool_choice"] = "auto"


async def _nothing() -> AsyncGenerator[bytes, None]:
    """A stream whose events were all given with its first."""
    none: tuple[bytes, ...] = ()
    for event in none:
        yield event
