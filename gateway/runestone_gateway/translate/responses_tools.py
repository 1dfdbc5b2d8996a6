"""A Responses request's function tools, `tool_choice` and `parallel_tool_calls` in chat's shape.

Responses declares a function tool flat (`{"type": "function", "name", "parameters"}`), chat
nests it (`{"type": "function", "function": {...}}`). Tool types are translated through one
table, `TOOLS`; a type not in it is refused by name. `file_search` becomes the function the
gateway answers itself (`file_search.function_tool`; the API layer runs the searches)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runestone_gateway.translate import checks, file_search


def _function_tool(tool: dict[str, Any], path: str) -> dict[str, Any]:
    function: dict[str, Any] = {"name": checks.name(tool.get("name"), f"{path}.name")}
    if tool.get("description") is not None:
        function["description"] = checks.string(tool["description"], f"{path}.description")
    if tool.get("parameters") is not None:
        function["parameters"] = checks.obj(tool["parameters"], f"{path}.parameters")
    if tool.get("strict") is not None:
        function["strict"] = checks.boolean(tool["strict"], f"{path}.strict")
    return {"type": "function", "function": function}


def _file_search_tool(tool: dict[str, Any], path: str) -> dict[str, Any]:
    # Its settings are checked by `file_search.settings`, which the API layer acts on.
    return file_search.function_tool()


TOOLS: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    "function": _function_tool,
    "file_search": _file_search_tool,
}


def add(body: dict[str, Any], chat: dict[str, Any]) -> None:
    """Check the request's tools and tool settings and put them in `chat`."""
    tools: list[dict[str, Any]] = []
    for index, tool in enumerate(checks.array(body.get("tools") or [], "tools")):
        path = f"tools[{index}]"
        kind = checks.obj(tool, path).get("type")
        translate = TOOLS.get(kind) if isinstance(kind, str) else None
        if translate is None:
            raise checks.unsupported(f"{path}.type", f"The tool type {kind!r}")
        tools.append(translate(tool, path))
    choice = _tool_choice(body.get("tool_choice"), tools)
    if not tools:
        return  # chat servers refuse tool_choice and parallel_tool_calls without tools
    chat["tools"] = tools
    if choice is not None:
        chat["tool_choice"] = choice
    parallel = body.get("parallel_tool_calls")
    if parallel is not None:
        chat["parallel_tool_calls"] = checks.boolean(parallel, "parallel_tool_calls")


def _tool_choice(choice: object, tools: list[dict[str, Any]]) -> object:
    """Chat's tool_choice; narrows `tools` in place for an `allowed_tools` choice."""
    if choice is None or choice in ("auto", "none"):
        return choice
    names = {tool["function"]["name"] for tool in tools}
    if choice == "required":
        if not tools:
            raise checks.TranslationError(
                param="tool_choice", message="'required' needs at least one tool in 'tools'."
            )
        return choice
    choice = checks.obj(choice, "tool_choice")
    kind = choice.get("type")
    if kind == "function":
        name = checks.name(choice.get("name"), "tool_choice.name")
        if name not in names:
            raise checks.TranslationError(
                param="tool_choice.name", message=f"No function tool named {name!r} in 'tools'."
            )
        return {"type": "function", "function": {"name": name}}
    if kind == "file_search":
        if file_search.NAME not in names:
            raise checks.TranslationError(
                param="tool_choice.type", message="No file_search tool in 'tools'."
            )
        return {"type": "function", "function": {"name": file_search.NAME}}
    if kind == "allowed_tools":
        mode = choice.get("mode")
        if mode not in ("auto", "required"):
            raise checks.TranslationError(
                param="tool_choice.mode", message="'tool_choice.mode' must be auto or required."
            )
        allowed = set()
        for index, tool in enumerate(checks.array(choice.get("tools"), "tool_choice.tools")):
            path = f"tool_choice.tools[{index}]"
            kind = checks.obj(tool, path).get("type")
            if kind == "file_search":
                allowed.add(file_search.NAME)
                continue
            if kind != "function":
                raise checks.unsupported(f"{path}.type", f"The tool type {kind!r}")
            allowed.add(checks.name(tool.get("name"), f"{path}.name"))
        # Chat servers have no allowed-tools choice; offering only those tools means the same.
        tools[:] = [tool for tool in tools if tool["function"]["name"] in allowed]
        return mode
    raise checks.unsupported("tool_choice.type", f"The tool choice {kind!r}")
