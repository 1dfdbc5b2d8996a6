"""The pure parts of the file_search tool: its settings, the function the model is offered, the
results as the model reads them, citation markers taken out of a text whole or split across
deltas, and a streamed answer's events with the searches put before them."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from runestone_gateway.translate import checks, file_search, file_search_stream, streams
from runestone_gateway.translate import usage as usage_

SOURCES = [
    {"file_id": "file-a", "filename": "a.md", "score": 0.9, "text": "Alpha.", "attributes": {}},
    {"file_id": "file-b", "filename": "b.txt", "score": 0.4, "text": "Beta.", "attributes": {}},
]
TOOL = {"type": "file_search", "vector_store_ids": ["vs_1"]}


def test_the_offered_function_takes_an_array_of_queries() -> None:
    chat = file_search.function_tool()
    native = file_search.native_tool()
    assert chat["function"]["name"] == native["name"] == file_search.NAME == "file_search"
    assert chat["function"]["parameters"] == native["parameters"]
    assert native["parameters"]["properties"]["queries"]["type"] == "array"
    assert native["parameters"]["required"] == ["queries"]


def test_settings_of_the_tool() -> None:
    found = file_search.settings(
        {
            "tools": [
                {
                    **TOOL,
                    "vector_store_ids": ["vs_1", "vs_2", "vs_1"],
                    "max_num_results": 3,
                    "filters": {"type": "eq", "key": "k", "value": "v"},
                    "ranking_options": {"score_threshold": 0.25},
                }
            ],
            "include": ["file_search_call.results"],
        }
    )
    assert found == file_search.Settings(
        vector_store_ids=("vs_1", "vs_2"),
        max_num_results=3,
        filters={"type": "eq", "key": "k", "value": "v"},
        score_threshold=0.25,
        include_results=True,
    )
    plain = file_search.settings({"tools": [TOOL]})
    assert plain is not None
    assert (plain.max_num_results, plain.include_results) == (10, False)
    assert file_search.settings({"tools": [{"type": "function", "name": "f"}]}) is None


@pytest.mark.parametrize(
    ("tools", "param"),
    [
        ([{"type": "function", "name": "file_search"}], "tools[0].name"),
        ([TOOL, TOOL], "tools[1].type"),
        ([{"type": "file_search"}], "tools[0].vector_store_ids"),
        ([{**TOOL, "vector_store_ids": []}], "tools[0].vector_store_ids"),
        ([{**TOOL, "vector_store_ids": [""]}], "tools[0].vector_store_ids[0]"),
        ([{**TOOL, "max_num_results": 51}], "tools[0].max_num_results"),
        ([{**TOOL, "max_num_results": 0}], "tools[0].max_num_results"),
        ([{**TOOL, "filters": "x"}], "tools[0].filters"),
        (
            [{**TOOL, "ranking_options": {"score_threshold": 2}}],
            "tools[0].ranking_options.score_threshold",
        ),
    ],
)
def test_bad_settings_name_the_field(tools: list[dict[str, Any]], param: str) -> None:
    with pytest.raises(checks.TranslationError) as caught:
        file_search.settings({"tools": tools})
    assert caught.value.param == param


@pytest.mark.parametrize(
    ("arguments", "queries"),
    [
        ('{"queries": ["a", "b"]}', ["a", "b"]),
        ('{"queries": "a"}', ["a"]),
        ('{"queries": ["a", "", 3, " "]}', ["a"]),
        ('{"query": "a"}', []),
        ("not json", []),
        ("", []),
        (json.dumps({"queries": [str(n) for n in range(20)]}), [str(n) for n in range(10)]),
    ],
)
def test_the_queries_of_a_call(arguments: str, queries: list[str]) -> None:
    assert file_search.queries(arguments) == queries


def test_results_are_numbered_on_and_named_by_their_file() -> None:
    text = file_search.results_text(SOURCES, 3)
    assert text.startswith("[^3] a.md\nAlpha.\n\n[^4] b.txt\nBeta.\n\n")
    assert text.endswith(file_search.CITE)
    assert "nothing" in file_search.results_text([], 1)


def test_markers_become_annotations_at_their_place() -> None:
    text, annotations = file_search.cite("Alpha holds [^1]. Both say so [^2][^1]!", SOURCES)
    assert text == "Alpha holds. Both say so!"
    assert [(a["file_id"], a["filename"], a["index"]) for a in annotations] == [
        ("file-a", "a.md", 11),
        ("file-b", "b.txt", 24),
        ("file-a", "a.md", 24),
    ]
    assert annotations[0]["type"] == "file_citation"


def test_text_that_only_looks_like_a_marker_stays() -> None:
    text = "Out of range [^3], a list [1], an array a[^x] and [^12345]."
    assert file_search.cite(text, SOURCES) == (text, [])


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
def test_markers_split_across_deltas_never_reach_the_text(size: int) -> None:
    whole = "Alpha holds [^1]. Beta [^2] and [^9] and [ not one."
    expected = file_search.cite(whole, SOURCES)
    citer = file_search.Citer(SOURCES)
    sent = [citer.feed(whole[n : n + size]) for n in range(0, len(whole), size)]
    sent.append(citer.end())
    assert "".join(sent) == expected[0]
    assert citer.annotations == expected[1]
    assert not any("^1" in piece or "^2" in piece for piece in sent)


def test_an_unfinished_marker_at_the_end_is_text() -> None:
    citer = file_search.Citer(SOURCES)
    assert citer.feed("Ends [^") == "Ends"
    assert citer.end() == " [^"


def test_an_earlier_search_as_the_functions_call_and_output() -> None:
    item = file_search.call_item("fs_1", ["alpha"], file_search.item_results(SOURCES), "completed")
    call, output = file_search.as_function_items(item)
    assert call == {
        "type": "function_call",
        "call_id": "fs_1",
        "name": "file_search",
        "arguments": '{"queries": ["alpha"]}',
    }
    assert output == {
        "type": "function_call_output",
        "call_id": "fs_1",
        "output": file_search.results_text(SOURCES, 1),
    }
    message = {"role": "user", "content": "Hi"}
    assert file_search.function_items([message, item]) == [message, call, output]


def test_the_output_the_client_gets() -> None:
    call = file_search.call_item("fs_1", ["alpha"], None, "completed")
    own_call = {"type": "function_call", "name": "file_search", "call_id": "c", "arguments": "{}"}
    message = {
        "type": "message",
        "content": [{"type": "output_text", "text": "Alpha [^1].", "annotations": []}],
    }
    output = file_search.answered([own_call, message], [call], SOURCES)
    assert output[0] is call
    assert output[1]["content"][0]["text"] == "Alpha."
    assert output[1]["content"][0]["annotations"][0]["index"] == 5
    assert len(output) == 2


# --- streams


def events(raw: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: ")]


class Recorded:
    """A shaper that gives back what it is fed, ending at `response.completed`."""

    def __init__(self) -> None:
        self.closed = False
        self.usage: usage_.Usage | None = None
        self.output_chars = 0

    def feed(self, raw: bytes) -> bytes:
        if b"response.completed" in raw:
            self.closed = True
            self.usage = usage_.Usage(5, 7)
        return raw

    def end(self) -> bytes:
        return b""

    def fail(self, message: str = "") -> bytes:
        return b""


def upstream_events(pieces: list[str]) -> list[bytes]:
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    text = "".join(pieces)
    part = {"type": "output_text", "text": text, "annotations": []}
    message = {"id": "msg_1", "type": "message", "status": "completed", "content": [part]}
    response = {"id": "resp_1", "status": "in_progress", "output": [], "tools": []}
    raw: list[dict[str, Any]] = [
        {"type": "response.created", "response": response},
        {"type": "response.in_progress", "response": response},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**message, "content": []},
        },
        *[{"type": "response.output_text.delta", **where, "delta": piece} for piece in pieces],
        {"type": "response.output_text.done", **where, "text": text},
        {"type": "response.content_part.done", **where, "part": part},
        {"type": "response.output_item.done", "output_index": 0, "item": message},
        {
            "type": "response.completed",
            "response": {**response, "status": "completed", "output": [message]},
        },
    ]
    return [streams.named_event(event) for event in raw]


def test_a_streamed_answer_gets_the_searches_first_and_its_citations_mapped() -> None:
    call = file_search.call_item("fs_1", ["alpha"], None, "completed")
    echo = {"tools": [TOOL], "tool_choice": "auto"}
    shaper = file_search_stream.CitingShaper(Recorded(), [call], SOURCES, usage_.Usage(3, 1), echo)
    out = b"".join(shaper.feed(raw) for raw in upstream_events(["Alpha", " [", "^1", "]."]))
    sent = events(out)
    assert [e["sequence_number"] for e in sent] == list(range(len(sent)))
    assert [e["type"] for e in sent] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.file_search_call.in_progress",
        "response.file_search_call.searching",
        "response.file_search_call.completed",
        "response.output_item.done",
        "response.output_item.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.annotation.added",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["delta"] for e in sent if e["type"] == "response.output_text.delta"] == [
        "Alpha",
        ".",
    ]
    assert all(e["output_index"] == 1 for e in sent[7:14])
    assert sent[10]["annotation"]["index"] == 5
    assert sent[11]["text"] == sent[12]["part"]["text"] == "Alpha."
    final = sent[-1]["response"]
    assert final["output"][0] == call
    assert final["output"][1]["content"][0]["annotations"][0]["file_id"] == "file-a"
    assert final["usage"]["input_tokens"] == 8
    assert final["tools"] == [TOOL]
    assert shaper.closed
    assert shaper.response == final
    assert shaper.usage == usage_.Usage(8, 8)


def test_a_whole_response_replayed_as_events() -> None:
    call = file_search.call_item("fs_1", ["alpha"], None, "completed")
    part = {"type": "output_text", "text": "Alpha.", "annotations": [{"index": 5}]}
    message = {"id": "msg_1", "type": "message", "status": "completed", "content": [part]}
    response = {"id": "resp_1", "status": "completed", "output": [call, message], "usage": {}}
    sent = events(file_search_stream.replayed(response))
    assert [e["sequence_number"] for e in sent] == list(range(len(sent)))
    kinds = [e["type"] for e in sent]
    assert kinds[2:7] == [
        "response.output_item.added",
        "response.file_search_call.in_progress",
        "response.file_search_call.searching",
        "response.file_search_call.completed",
        "response.output_item.done",
    ]
    assert "response.output_text.annotation.added" in kinds
    assert kinds[-1] == "response.completed"
    assert sent[-1]["response"] == response
    assert sent[0]["response"]["output"] == []
