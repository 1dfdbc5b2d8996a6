"""One usage record from each API's usage object: Anthropic's input_tokens leave the cache out,
OpenAI's prompt_tokens and input_tokens count it in, and charging needs both right."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from anthropic.types import Usage as MessagesUsage
from openai.types import CompletionUsage
from openai.types.responses import ResponseUsage

from runestone_gateway.translate import usage

RECORD = usage.Usage(
    input_tokens=1000,
    output_tokens=300,
    cache_read_tokens=600,
    cache_write_tokens=100,
    reasoning_tokens=40,
)


def test_a_chat_usage_counts_cached_tokens_inside_prompt_tokens() -> None:
    body = {
        "prompt_tokens": 1000,
        "completion_tokens": 300,
        "total_tokens": 1300,
        "prompt_tokens_details": {
            "cached_tokens": 600,
            "cache_write_tokens": 100,
            "audio_tokens": 0,
        },
        "completion_tokens_details": {"reasoning_tokens": 40},
    }
    record = usage.from_chat(body)
    assert record == RECORD
    assert record is not None
    assert record.uncached_input_tokens == 300
    assert record.total_tokens == 1300


def test_a_responses_usage() -> None:
    body = {
        "input_tokens": 1000,
        "input_tokens_details": {"cached_tokens": 600, "cache_write_tokens": 100},
        "output_tokens": 300,
        "output_tokens_details": {"reasoning_tokens": 40},
        "total_tokens": 1300,
    }
    assert usage.from_responses(body) == RECORD


def test_a_messages_usage_counts_cached_tokens_beside_input_tokens() -> None:
    body = {
        "input_tokens": 300,
        "cache_read_input_tokens": 600,
        "cache_creation_input_tokens": 100,
        "output_tokens": 300,
        "output_tokens_details": {"thinking_tokens": 40},
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 0},
    }
    assert usage.from_messages(body) == RECORD


def test_without_details_nothing_is_cached() -> None:
    assert usage.from_chat({"prompt_tokens": 5, "completion_tokens": 2}) == usage.Usage(5, 2)
    assert usage.from_responses({"input_tokens": 5, "output_tokens": 2}) == usage.Usage(5, 2)
    assert usage.from_messages({"input_tokens": 5, "output_tokens": 2}) == usage.Usage(5, 2)
    nulls = {
        "input_tokens": 5,
        "output_tokens": 2,
        "cache_read_input_tokens": None,
        "cache_creation_input_tokens": None,
    }
    assert usage.from_messages(nulls) == usage.Usage(5, 2)


@pytest.mark.parametrize("reader", [usage.from_chat, usage.from_responses, usage.from_messages])
@pytest.mark.parametrize("value", [None, [], "12", 7])
def test_no_usage_object_is_no_record(
    reader: Callable[[object], usage.Usage | None], value: object
) -> None:
    assert reader(value) is None


def test_counts_that_are_not_counts_are_zero() -> None:
    record = usage.from_chat(
        {
            "prompt_tokens": True,
            "completion_tokens": -3,
            "prompt_tokens_details": {"cached_tokens": "9"},
        }
    )
    assert record == usage.Usage(0, 0)


def test_each_shape_reads_back_what_it_wrote_and_the_sdks_read_it() -> None:
    chat = usage.to_chat(RECORD)
    responses = usage.to_responses(RECORD)
    messages = usage.to_messages(RECORD)
    assert usage.from_chat(chat) == RECORD
    assert usage.from_responses(responses) == RECORD
    assert usage.from_messages(messages) == RECORD
    sdk_chat = CompletionUsage.model_validate(chat)
    assert sdk_chat.prompt_tokens_details is not None
    assert sdk_chat.prompt_tokens_details.cached_tokens == 600
    assert ResponseUsage.model_validate(responses).input_tokens_details.cache_write_tokens == 100
    sdk_messages = MessagesUsage.model_validate(messages)
    assert (sdk_messages.input_tokens, sdk_messages.cache_read_input_tokens) == (300, 600)


def test_the_uncached_part_never_goes_below_zero() -> None:
    assert usage.Usage(10, 0, cache_read_tokens=8, cache_write_tokens=8).uncached_input_tokens == 0
