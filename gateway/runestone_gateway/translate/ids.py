"""Identifiers of the objects the translations make, with the prefixes the APIs use."""

from __future__ import annotations

import secrets


def response() -> str:
    return "resp_" + secrets.token_hex(24)


def message_item() -> str:
    """A Responses output message (`msg_`), and an Anthropic Message (also `msg_`)."""
    return "msg_" + secrets.token_hex(24)


def function_call_item() -> str:
    return "fc_" + secrets.token_hex(24)


def call() -> str:
    """A tool call's id for an upstream that sent none (clients echo it back with the result)."""
    return "call_" + secrets.token_hex(12)


def item() -> str:
    """Any other item (a function call's output, as the gateway lists input items)."""
    return "item_" + secrets.token_hex(24)


def file_search_call() -> str:
    """A `file_search_call` output item (`fs_`)."""
    return "fs_" + secrets.token_hex(24)
