"""The LLM client against a real HTTP server speaking the Chat Completions wire format."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from agentcore.llm import LLMClient, LLMDeadlineExceeded, LLMError
from tests.agentcore.fake_openai import (
    ErrorReply,
    FakeOpenAI,
    JSONReply,
    StreamReply,
    ToolCallSpec,
    Usage,
)

MESSAGES = [{"role": "user", "content": "What does it cost?"}]


async def test_json_completion_returns_text_usage_and_model(
    server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(JSONReply("We start at $499/mo.", usage=Usage(20, 6)))
    llm = make_llm()
    result = await llm.complete(MESSAGES, cheap=True)
    assert result.text == "We start at $499/mo."
    assert result.usage.total_tokens == 26
    assert not result.cached
    assert server.requests[0]["model"] == "cheap-model"
    assert server.requests[0]["stream"] is False
    assert llm.usage.total_tokens == 26


async def test_identical_non_stream_requests_are_cached(
    server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(JSONReply("first"), JSONReply("second"))
    llm = make_llm(cache_ttl_seconds=60)
    one = await llm.complete(MESSAGES)
    two = await llm.complete(MESSAGES)
    assert (one.text, two.text) == ("first", "first")
    assert two.cached and two.usage.total_tokens == 0
    assert len(server.requests) == 1
    # a different request is not a cache hit
    other = await llm.complete([{"role": "user", "content": "Something else"}])
    assert other.text == "second" and len(server.requests) == 2
    # tokens are only counted for requests the server actually answered
    assert llm.usage.total_tokens == 2 * Usage().to_json()["total_tokens"]


async def test_cache_expires_after_ttl(server: FakeOpenAI) -> None:
    now = [100.0]
    from agentcore.llm import LLMConfig

    llm = LLMClient(LLMConfig(base_url=server.base_url, api_key="k", cache_ttl_seconds=30),
                    clock=lambda: now[0])
    server.enqueue(JSONReply("old"), JSONReply("new"))
    try:
        assert (await llm.complete(MESSAGES)).text == "old"
        now[0] += 29
        assert (await llm.complete(MESSAGES)).cached
        now[0] += 2
        assert (await llm.complete(MESSAGES)).text == "new"
        assert len(server.requests) == 2
    finally:
        await llm.aclose()


async def test_cache_disabled_with_zero_ttl(
    server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(JSONReply("a"), JSONReply("b"))
    llm = make_llm(cache_ttl_seconds=0)
    assert [(await llm.complete(MESSAGES)).text for _ in range(2)] == ["a", "b"]


async def test_non_stream_tool_calls_are_parsed(
    server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(JSONReply(None, tool_calls=[ToolCallSpec("book_demo", {"slot": "Friday 10am"},
                                                            id="call_9")]))
    result = await make_llm().complete(MESSAGES, tools=[{"type": "function", "function": {
        "name": "book_demo", "parameters": {"type": "object", "properties": {}}}}])
    assert result.text == ""
    assert [(c.id, c.name, json.loads(c.arguments)) for c in result.tool_calls] == [
        ("call_9", "book_demo", {"slot": "Friday 10am"})]
    assert server.requests[0]["tools"][0]["function"]["name"] == "book_demo"


async def test_stream_delivers_tokens_in_order_and_counts_usage(
    server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(StreamReply(["Namaste", "! ", "Pricing", " starts", " at $499."],
                               usage=Usage(40, 5)))
    seen: list[str] = []
    llm = make_llm()
    result = await llm.stream(MESSAGES).run(seen.append)
    assert seen == ["Namaste", "! ", "Pricing", " starts", " at $499."]
    assert result.text == "Namaste! Pricing starts at $499."
    assert result.usage.total_tokens == 45 and llm.usage.total_tokens == 45
    assert result.first_token_ms is not None and result.finish_reason == "stop"
    request = server.requests[0]
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert request["model"] == "critical-model"


async def test_stream_accepts_async_token_callbacks(
    server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(StreamReply(["a", "b"]))
    queue: asyncio.Queue[str] = asyncio.Queue()
    await make_llm().stream(MESSAGES).run(queue.put)
    assert [queue.get_nowait() for _ in range(queue.qsize())] == ["a", "b"]


async def test_streamed_tool_call_fragments_are_joined(
    server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(StreamReply([], tool_calls=[
        ToolCallSpec("schedule_callback", {"when": "tomorrow at 3pm"}, id="call_a"),
        ToolCallSpec("end_call", {"reason": "callback"}, id="call_b"),
    ]))
    result = await make_llm().stream(MESSAGES).run()
    assert [(c.id, c.name, json.loads(c.arguments)) for c in result.tool_calls] == [
        ("call_a", "schedule_callback", {"when": "tomorrow at 3pm"}),
        ("call_b", "end_call", {"reason": "callback"}),
    ]
    assert result.finish_reason == "tool_calls"


@pytest.mark.parametrize(("status", "reason"), [(500, "http_500"), (429, "rate_limited"),
                                                (400, "http_400")])
async def test_http_errors_become_llm_errors(
    server: FakeOpenAI, make_llm: Callable[..., LLMClient], status: int, reason: str
) -> None:
    server.enqueue(ErrorReply(status, "nope"), ErrorReply(status, "nope"))
    llm = make_llm()
    with pytest.raises(LLMError) as caught:
        await llm.complete(MESSAGES)
    assert caught.value.reason == reason and caught.value.status == status
    with pytest.raises(LLMError) as streamed:
        await llm.stream(MESSAGES).run()
    assert streamed.value.reason == reason


async def test_stalled_stream_misses_the_first_token_deadline(
    server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(StreamReply(stall_before_headers=True))
    with pytest.raises(LLMDeadlineExceeded) as caught:
        await make_llm(first_token_deadline_ms=150).stream(MESSAGES).run()
    assert caught.value.reason == "deadline"
    # giving up closes the connection: the server sees the client leave
    await asyncio.wait_for(server.disconnected.wait(), 5)


async def test_stream_that_goes_quiet_after_first_tokens_is_reported(
    server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(StreamReply(["Hello", " there"], stall_after=1))
    seen: list[str] = []
    with pytest.raises(LLMError) as caught:
        await make_llm(stall_timeout_seconds=0.2).stream(MESSAGES).run(seen.append)
    assert caught.value.reason == "stalled" and seen == ["Hello"]


async def test_cancel_mid_stream_stops_tokens_and_closes_the_connection(
    server: FakeOpenAI, make_llm: Callable[..., LLMClient]
) -> None:
    server.enqueue(StreamReply(["one", " two", " three", " four"], stall_after=2))
    llm = make_llm()
    stream = llm.stream(MESSAGES)
    seen: list[str] = []

    def on_token(token: str) -> None:
        seen.append(token)
        if len(seen) == 2:
            stream.cancel()

    result = await stream.run(on_token)
    assert result.cancelled and result.text == "one two" and seen == ["one", " two"]
    assert result.tool_calls == []
    await asyncio.wait_for(server.disconnected.wait(), 5)


async def test_connection_refused_is_a_connection_error(make_llm: Callable[..., LLMClient]) -> None:
    llm = make_llm(base_url="http://127.0.0.1:9/v1")
    with pytest.raises(LLMError) as caught:
        await llm.complete(MESSAGES)
    assert caught.value.reason in ("connection", "timeout")


async def test_client_is_disabled_without_key_or_url() -> None:
    from agentcore.llm import LLMConfig

    assert not LLMClient(LLMConfig()).enabled
    assert LLMClient(LLMConfig(api_key="k")).enabled
