"""What a stream is charged when the upstream reports no usage: the relay counts only bytes and
events of what it sent (and keeps its first writes), and the estimate from those comes within a
few tokens of the relayed text's four characters a token, for chat content, completion text and
tool-call arguments. Usage the upstream reported in full is taken as it is; usage reported only
in part (Anthropic's input before the end) keeps its input and takes the larger output."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from runestone_gateway.api import streaming, tokens, validate
from runestone_gateway.failover import dispatch
from runestone_gateway.providers import base
from runestone_gateway.transport import sse

TEXT = "The quick brown fox jumps over the lazy dog, then naps in the warm afternoon sun."


def event(**choice: Any) -> bytes:
    chunk = {
        "id": "chatcmpl-0123456789abcdef",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, **choice, "finish_reason": None, "logprobs": None}],
    }
    return sse.data_event(orjson.dumps(chunk))


def pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [word if index == 0 else " " + word for index, word in enumerate(words)]


STREAMS = {
    "chat": [
        event(delta={"role": "assistant", "content": ""}),
        *(event(delta={"content": piece}) for piece in pieces(TEXT)),
    ],
    "completion": [event(text=piece) for piece in pieces(TEXT)],
    "tool-call": [
        event(delta={"role": "assistant", "content": None}),
        *(
            event(delta={"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            for piece in pieces(TEXT)
        ),
    ],
}


@pytest.mark.parametrize("kind", list(STREAMS))
def test_the_estimate_is_the_relayed_text_at_four_characters_a_token(kind: str) -> None:
    events = STREAMS[kind]
    writes = [events[0], b"".join(events[1:3]), *events[3:]]  # some arrive together
    estimate = tokens.streamed(sum(map(len, writes)), len(events), writes[:3])
    exact = -(-len(TEXT) // tokens.CHARS_PER_TOKEN)
    assert estimate == exact


def test_nothing_with_text_is_no_output() -> None:
    role = event(delta={"role": "assistant", "content": ""})
    assert tokens.streamed(len(role), 1, [role]) == 0


class Sent:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: Any) -> None:
        self.messages.append(message)


async def relayed(
    events: list[bytes], meter: base.UsageMeter, together: int = 1
) -> tuple[streaming.Relay, base.EventStream]:
    """Relay `events`, the first `together` of them in the first write, the next two in one."""
    first, rest = b"".join(events[:together]), events[together:]

    async def upstream() -> Any:
        yield b"".join(rest[:2])  # events that arrived together leave together
        for item in rest[2:]:
            yield item

    stream = base.EventStream(upstream(), meter)
    relay = streaming.Relay(Sent())
    opened: dispatch.Success[streaming.Opened] = dispatch.Success(
        target=None,  # type: ignore[arg-type]
        result=(stream, first),
        permit=None,  # type: ignore[arg-type]
        upstream_seconds=0.0,
    )
    await relay.run(opened)
    return relay, stream


REQUEST = validate.Request(
    "chat", {"model": "m", "messages": [{"role": "user", "content": "hi"}]}, "m", True, False
)


@pytest.mark.parametrize("together", [1, 4])
async def test_a_stream_without_usage_is_charged_the_estimate(together: int) -> None:
    events = [*STREAMS["chat"], sse.DONE_EVENT]
    relay, stream = await relayed(events, base.UsageMeter(), together)
    usage = relay.usage(stream, REQUEST)
    assert relay.estimated
    assert usage.input_tokens == tokens.estimate(REQUEST) == 4
    assert usage.output_tokens == -(-len(TEXT) // tokens.CHARS_PER_TOKEN)


async def test_reported_usage_is_kept_and_partial_usage_completed() -> None:
    meter = base.UsageMeter()
    meter.usage = base.Usage(11, 3)
    relay, stream = await relayed(STREAMS["chat"], meter)
    assert relay.usage(stream, REQUEST) == base.Usage(11, 3)
    assert not relay.estimated
    meter.partial = True
    usage = relay.usage(stream, REQUEST)
    assert relay.estimated
    assert usage.input_tokens == 11
    assert usage.output_tokens >= len(TEXT) // tokens.CHARS_PER_TOKEN
