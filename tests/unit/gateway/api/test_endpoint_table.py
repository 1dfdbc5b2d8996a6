"""The API's endpoint table: every kind a model can serve is reachable, each endpoint under
OpenTelemetry's operation name, with its checks, its token estimate or plan, the API it speaks
and its error envelope in its row."""

from __future__ import annotations

import typing

import orjson
import pytest

from runestone_gateway import config, errors
from runestone_gateway.api import endpoints, messages, responses


def test_every_kind_has_an_endpoint() -> None:
    kinds = {endpoint.kind for endpoint in endpoints.GENERATION.values()}
    assert kinds == set(typing.get_args(config.Kind))


def test_the_rows() -> None:
    table = {
        path: (e.kind, e.operation, e.api, e.errors is errors.anthropic_body)
        for path, e in endpoints.GENERATION.items()
    }
    assert table == {
        "/v1/chat/completions": ("chat", "chat", None, False),
        "/v1/completions": ("completion", "text_completion", None, False),
        "/v1/embeddings": ("embedding", "embeddings", None, False),
        "/v1/responses": ("chat", "chat", "responses", False),
        "/v1/messages": ("chat", "chat", "messages", True),
        "/v1/messages/count_tokens": ("chat", "count_tokens", "messages", True),
    }
    assert all(path == e.path for path, e in endpoints.GENERATION.items())


def test_an_endpoint_has_a_plan_exactly_when_it_speaks_an_api_of_its_own() -> None:
    for endpoint in endpoints.GENERATION.values():
        assert (endpoint.plan is not None) == (endpoint.api is not None)
        # The plan estimates the prompt where there is one; else the row does.
        assert (endpoint.estimate is None) == (endpoint.plan is not None)
        assert endpoint.api is None or endpoint.api in typing.get_args(config.UpstreamApi)


@pytest.mark.parametrize(
    ("path", "anthropic"),
    [
        ("/v1/chat/completions", False),
        ("/v1/responses", False),
        ("/v1/responses/resp_1/input_items", False),
        ("/v1/messages", True),
        ("/v1/messages/count_tokens", True),
        ("/v1/messages/batches", True),
        ("/v1/nothing", False),
    ],
)
def test_errors_are_answered_in_the_endpoints_envelope(path: str, anthropic: bool) -> None:
    error = errors.malformed("'max_tokens' is required.", param="max_tokens")
    body = orjson.loads(endpoints.error_body(path)(error))
    if anthropic:
        assert body == {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "'max_tokens' is required."},
        }
    else:
        assert body["error"]["param"] == "max_tokens"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (405, "invalid_request_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (504, "api_error"),
    ],
)
def test_anthropic_error_types_follow_the_status(status: int, kind: str) -> None:
    error = errors.GatewayError(status, "no", type=errors.INSUFFICIENT_QUOTA)
    assert orjson.loads(errors.anthropic_body(error))["error"]["type"] == kind


def test_an_anthropic_upstreams_own_error_type_is_kept_and_the_field_named() -> None:
    overloaded = errors.GatewayError(429, "busy", type="overloaded_error")
    assert orjson.loads(errors.anthropic_body(overloaded))["error"]["type"] == "overloaded_error"
    # OpenAI's generic type is not kept: a 404 is Anthropic's not_found_error.
    unknown_model = errors.model_not_found("m")
    assert orjson.loads(errors.anthropic_body(unknown_model))["error"]["type"] == (
        "not_found_error"
    )
    named = errors.malformed("must be an array.", param="messages[0].content")
    assert orjson.loads(errors.anthropic_body(named))["error"]["message"] == (
        "messages[0].content: must be an array."
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
        ({"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}, None),
        ({"model": "m", "max_tokens": True, "messages": [{"role": "user", "content": "x"}]}, None),
        ({"model": "m", "max_tokens": 9, "messages": []}, "messages"),
        ({"max_tokens": 9, "messages": [{"role": "user", "content": "x"}]}, "model"),
    ],
)
def test_messages_requests_are_checked(body: dict[str, object], param: str | None) -> None:
    with pytest.raises(errors.GatewayError) as refused:
        messages.check(orjson.dumps(body))
    assert refused.value.status == 400
    assert refused.value.param == (param or "max_tokens")


def test_a_token_count_needs_no_max_tokens_and_is_never_streamed() -> None:
    request = messages.check_count(
        orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": 1})
    )
    assert (request.model, request.stream) == ("m", False)


def test_a_responses_request_needs_a_model_and_a_boolean_stream() -> None:
    request = responses.check(orjson.dumps({"model": "m", "input": "hi", "stream": True}))
    assert (request.kind, request.model, request.stream) == ("chat", "m", True)
    with pytest.raises(errors.GatewayError) as refused:
        responses.check(orjson.dumps({"model": "m", "input": "hi", "stream": "yes"}))
    assert refused.value.param == "stream"
