"""What the Responses request-translation tests share: a request translated to Chat Completions,
the error a malformed one is refused with, and a function tool."""

from __future__ import annotations

from typing import Any

import pytest

from runestone_gateway.translate import checks, responses_request


def chat(**body: Any) -> dict[str, Any]:
    return responses_request.to_chat_request({"model": "client-model", **body})


def refused(body: dict[str, Any], **keywords: Any) -> checks.TranslationError:
    with pytest.raises(checks.TranslationError) as caught:
        responses_request.to_chat_request({"model": "client-model", **body}, **keywords)
    return caught.value


FUNCTION = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
