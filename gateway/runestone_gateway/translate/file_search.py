"""The Responses API's `file_search` tool, as the gateway runs it for any upstream: pure parts.

The upstream model never sees `file_search` itself: it is offered a function tool of the same
name (`FUNCTION`, whose argument is the queries to search for), and the gateway answers its
calls with the search results, each chunk numbered and named by its file (`results_text`).
The model is asked to cite a chunk by writing its marker (`[^3]`) after what it supports; the
markers are turned into `file_citation` annotations at their place in the text and taken out
of it (`Citer`, which also works on a stream, where a marker may be split across deltas). The
client sees a `file_search_call` output item before the message, as OpenAI sends it."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runestone_gateway.translate import checks, ids

NAME = "file_search"
"""The function the upstream model is offered; a client's own function may not take it."""
RESULTS_INCLUDE = "file_search_call.results"
"""The `include` value that puts the search results in the `file_search_call` item."""
DEFAULT_RESULTS = 10
MAX_RESULTS = 50
MAX_STORES = 10
MAX_QUERIES = 10
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "queries": {
            "type": "array",
            "items": {"type": "string"},
            "description": "One or more search queries; several phrasings find more.",
        }
    },
    "required": ["queries"],
    "additionalProperties": False,
}
DESCRIPTION = (
    "Search the user's uploaded files for passages relevant to the conversation. "
    "Use it whenever the answer may be in those files."
)
CITE = (
    "Cite the results you use by writing their marker, such as [^1], right after the "
    "statement each one supports."
)
MARKER = re.compile(r" ?\[\^(\d{1,4})\]")
_PARTIAL = re.compile(r" ?(\[(\^\d{0,4})?)?\Z")
"""What may be the start of a marker at the end of a delta: held back until the next one."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The request's `file_search` tool."""

    vector_store_ids: tuple[str, ...]
    max_num_results: int
    filters: dict[str, Any] | None
    score_threshold: float
    include_results: bool


def function_tool() -> dict[str, Any]:
    """The function the model is offered, in chat's shape."""
    function = {"name": NAME, "description": DESCRIPTION, "parameters": PARAMETERS}
    return {"type": "function", "function": function}


def native_tool() -> dict[str, Any]:
    """The same function in the Responses API's (flat) shape."""
    return {"type": "function", "name": NAME, "description": DESCRIPTION, "parameters": PARAMETERS}


def settings(body: dict[str, Any]) -> Settings | None:
    """The request's `file_search` tool, checked (TranslationError naming the field), or None
    when it has none. A function tool of the request may not be named like the offered one."""
    found: Settings | None = None
    for index, tool in enumerate(checks.array(body.get("tools") or [], "tools")):
        path = f"tools[{index}]"
        tool = checks.obj(tool, path)
        if tool.get("type") == "function" and tool.get("name") == NAME:
            raise checks.TranslationError(
                param=f"{path}.name",
                message=f"A function tool may not be named {NAME!r}: the file_search tool "
                "uses that name.",
            )
        if tool.get("type") != "file_search":
            continue
        if found is not None:
            raise checks.TranslationError(
                param=f"{path}.type", message="Only one file_search tool may be given."
            )
        found = _settings(tool, path, body.get("include"))
    return found


def _settings(tool: dict[str, Any], path: str, include: object) -> Settings:
    stores = checks.array(tool.get("vector_store_ids"), f"{path}.vector_store_ids")
    if not 1 <= len(stores) <= MAX_STORES:
        raise checks.TranslationError(
            param=f"{path}.vector_store_ids",
            message=f"'{path}.vector_store_ids' must hold 1 to {MAX_STORES} vector store ids.",
        )
    names = [checks.name(store, f"{path}.vector_store_ids[{n}]") for n, store in enumerate(stores)]
    limit = tool.get("max_num_results", DEFAULT_RESULTS)
    if limit is None:
        limit = DEFAULT_RESULTS
    if checks.positive_int(limit, f"{path}.max_num_results") > MAX_RESULTS:
        raise checks.TranslationError(
            param=f"{path}.max_num_results",
            message=f"'{path}.max_num_results' must be from 1 to {MAX_RESULTS}.",
        )
    filters = tool.get("filters")
    if filters is not None:
        filters = checks.obj(filters, f"{path}.filters")
    threshold = 0.0
    ranking = tool.get("ranking_options")
    if ranking is not None:
        given = checks.obj(ranking, f"{path}.ranking_options").get("score_threshold")
        if given is not None:
            threshold = float(checks.number(given, f"{path}.ranking_options.score_threshold"))
            if not 0.0 <= threshold <= 1.0:
                raise checks.TranslationError(
                    param=f"{path}.ranking_options.score_threshold",
                    message="'score_threshold' must be from 0 to 1.",
                )
    included = checks.array(include or [], "include")
    return Settings(
        vector_store_ids=tuple(dict.fromkeys(names)),
        max_num_results=limit,
        filters=filters,
        score_threshold=threshold,
        include_results=RESULTS_INCLUDE in included,
    )


def queries(arguments: str) -> list[str]:
    """The queries of one call of the function: the non-empty strings of `queries` (at most
    `MAX_QUERIES`); none when the model's arguments say nothing usable."""
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError:
        return []
    given = parsed.get("queries") if isinstance(parsed, dict) else None
    if isinstance(given, str):
        given = [given]
    if not isinstance(given, list):
        return []
    return [query for query in given if isinstance(query, str) and query.strip()][:MAX_QUERIES]


def results_text(results: Sequence[dict[str, Any]], first: int) -> str:
    """One search's results as the model reads them: each chunk under its marker (numbered on
    from `first`, so the markers of every search of a response differ) and its file's name."""
    if not results:
        return "The search found nothing in the files."
    blocks = [
        f"[^{first + n}] {result['filename']}\n{result['text']}" for n, result in enumerate(results)
    ]
    return "\n\n".join([*blocks, CITE])


def no_queries_text() -> str:
    return "No search was run: call file_search with 'queries', an array of search strings."


def call_item(
    item_id: str, queries: Sequence[str], results: list[dict[str, Any]] | None, status: str
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "file_search_call",
        "status": status,
        "queries": list(queries),
        "results": results,
    }


def new_call_item(queries: Sequence[str]) -> dict[str, Any]:
    return call_item(ids.file_search_call(), queries, None, "in_progress")


def item_results(found: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The results as the `file_search_call` item lists them under `include`."""
    return [
        {
            "file_id": result["file_id"],
            "filename": result["filename"],
            "score": result["score"],
            "text": result["text"],
            "attributes": result.get("attributes") or {},
        }
        for result in found
    ]


def as_function_items(item: dict[str, Any]) -> list[dict[str, Any]]:
    """A `file_search_call` input item (of an earlier response) as the function call and its
    output an upstream model takes: its results when the item kept them."""
    call_id = str(item.get("id") or ids.call())
    given = item.get("queries")
    asked = [query for query in given if isinstance(query, str)] if isinstance(given, list) else []
    results = item.get("results")
    if isinstance(results, list):
        kept = [r for r in results if isinstance(r, dict) and {"filename", "text"} <= r.keys()]
        output = results_text(kept, 1)
    else:
        output = "The results of this search were not kept."
    return [
        {
            "type": "function_call",
            "call_id": call_id,
            "name": NAME,
            "arguments": json.dumps({"queries": asked}),
        },
        {"type": "function_call_output", "call_id": call_id, "output": output},
    ]


def function_items(items: list[Any]) -> list[Any]:
    """Input items with each `file_search_call` as its function call and output."""
    expanded: list[Any] = []
    for item in items:
        if isinstance(item, dict) and item.get("type") == "file_search_call":
            expanded += as_function_items(item)
        else:
            expanded.append(item)
    return expanded


class Citer:
    """Takes the markers out of an answer's text, fed whole or in deltas, and notes a
    `file_citation` annotation for each at its place in the text that remains. A marker whose
    number names no result stays as text."""

    def __init__(self, sources: Sequence[dict[str, Any]]) -> None:
        self._sources = sources
        self._held = ""
        self._length = 0
        self.annotations: list[dict[str, Any]] = []

    def feed(self, delta: str) -> str:
        """The text to send for `delta`: what may begin a marker is held until the next."""
        text = self._held + delta
        out: list[str] = []
        position = 0
        for found in MARKER.finditer(text):
            number = int(found.group(1))
            if not 1 <= number <= len(self._sources):
                continue
            self._add(out, text[position : found.start()])
            source = self._sources[number - 1]
            self.annotations.append(
                {
                    "type": "file_citation",
                    "file_id": source["file_id"],
                    "filename": source["filename"],
                    "index": self._length,
                }
            )
            position = found.end()
        rest = text[position:]
        held = _PARTIAL.search(rest)
        cut = held.start() if held is not None else len(rest)
        self._add(out, rest[:cut])
        self._held = rest[cut:]
        return "".join(out)

    def end(self) -> str:
        """What was held at the end of the text."""
        held, self._held = self._held, ""
        self._length += len(held)
        return held

    def _add(self, out: list[str], text: str) -> None:
        out.append(text)
        self._length += len(text)


def cite(text: str, sources: Sequence[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """A whole text without its markers, and its annotations."""
    citer = Citer(sources)
    cleaned = citer.feed(text) + citer.end()
    return cleaned, citer.annotations


def is_search_call(item: object) -> bool:
    """Whether a Responses output item is the model's call of the offered function."""
    return (
        isinstance(item, dict) and item.get("type") == "function_call" and item.get("name") == NAME
    )


def answered(
    output: list[dict[str, Any]],
    calls: Sequence[dict[str, Any]],
    sources: Sequence[dict[str, Any]],
) -> list[dict[str, Any]]:
    """A response's output as the client gets it: the `file_search_call` items first, the
    model's own calls of the offered function left out, markers turned into annotations."""
    kept: list[dict[str, Any]] = [*calls]
    for item in output:
        if is_search_call(item):
            continue
        if item.get("type") == "message" and isinstance(item.get("content"), list):
            item = {**item, "content": [cited_part(part, sources) for part in item["content"]]}
        kept.append(item)
    return kept


def cited_part(part: object, sources: Sequence[dict[str, Any]]) -> object:
    if not isinstance(part, dict) or part.get("type") != "output_text":
        return part
    text, annotations = cite(str(part.get("text") or ""), sources)
    existing = part.get("annotations")
    return {
        **part,
        "text": text,
        "annotations": [*(existing if isinstance(existing, list) else []), *annotations],
    }
