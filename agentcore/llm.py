"""The LLM client: any OpenAI-compatible Chat Completions server through `openai.AsyncOpenAI`.

Theory of operation. A live turn streams: a producer task reads SSE chunks from the SDK and
puts text pieces, tool-call fragments and the usage record on an `asyncio.Queue`; the
consumer (`LLMStream.run`) takes them off, hands text to `on_token` and assembles the result.
Two clocks guard the consumer: the first piece must arrive within `first_token_deadline_ms`
(else `LLMDeadlineExceeded`, and the caller answers from the playbook), and later pieces
within `stall_timeout_seconds`. `cancel()` (barge-in) stops at once: the consumer drops
whatever is still queued and the producer task is cancelled, which closes the HTTP response
so the server stops generating too.

Non-streamed requests (summaries, train loop, chat webhooks) go through `complete()`, which
caches identical requests for `cache_ttl_seconds`. Every failure surfaces as `LLMError` with a
short machine-readable `reason`; token usage is summed in `usage`.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import openai

TokenCallback = Callable[[str], Awaitable[None] | None]
Message = dict[str, Any]


@dataclass(frozen=True)
class LLMConfig:
    """Plain settings (the daemon fills them from OPENAI_* and LLM_* variables)."""

    api_key: str | None = None
    base_url: str | None = None
    model_critical: str = "gpt-4o"
    model_cheap: str = "gpt-4o-mini"
    cache_ttl_seconds: float = 30.0
    first_token_deadline_ms: int = 1500
    stall_timeout_seconds: float = 10.0
    request_timeout_seconds: float = 20.0
    max_retries: int = 0
    temperature: float = 0.4
    max_tokens: int = 300

    @property
    def enabled(self) -> bool:
        return bool(self.api_key or self.base_url)


class LLMError(Exception):
    """The model did not answer usefully. `reason`: deadline, stalled, timeout, connection,
    rate_limited, http_<status>, bad_response."""

    def __init__(self, reason: str, detail: str = "", status: int | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.status = status
        self.partial = ""  # text already handed to on_token before the failure


class LLMDeadlineExceeded(LLMError):
    """No first token within the deadline: the lead must not hear dead air."""


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass
class LLMResult:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    first_token_ms: float | None = None
    cached: bool = False
    cancelled: bool = False
    finish_reason: str | None = None


def map_error(exc: BaseException) -> LLMError:
    """One vocabulary for the SDK's exception zoo."""
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, openai.RateLimitError):
        return LLMError("rate_limited", str(exc), 429)
    if isinstance(exc, openai.APIStatusError):
        return LLMError(f"http_{exc.status_code}", str(exc), exc.status_code)
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return LLMError("timeout", str(exc))
    if isinstance(exc, openai.APIConnectionError):
        return LLMError("connection", str(exc))
    return LLMError("bad_response", f"{type(exc).__name__}: {exc}")


async def deliver_token(callback: TokenCallback | None, token: str) -> None:
    """Call a sync or async token callback."""
    if callback is None:
        return
    result = callback(token)
    if inspect.isawaitable(result):
        await result


class _ToolAssembler:
    """Joins streamed tool-call fragments by index."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, str]] = {}

    def add(self, index: int, call_id: str | None, name: str | None, args: str | None) -> None:
        call = self._calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
        call["id"] = call_id or call["id"]
        call["name"] += name or ""
        call["arguments"] += args or ""

    def calls(self) -> list[ToolCall]:
        return [ToolCall(c["id"] or f"call_{i}", c["name"], c["arguments"])
                for i, c in sorted(self._calls.items()) if c["name"]]


_DONE = object()


class LLMStream:
    """One streamed completion. `run()` once; `cancel()` from anywhere, any time."""

    def __init__(self, client: LLMClient, request: dict[str, Any], deadline_ms: int) -> None:
        self._client = client
        self._request = request
        self._deadline_ms = deadline_ms
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._producer: asyncio.Task[None] | None = None
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self._queue.put_nowait(_DONE)  # wakes the consumer if it is waiting
        if self._producer is not None:
            self._producer.cancel()

    async def _produce(self) -> None:
        stream = None
        try:
            stream = await self._client.sdk.chat.completions.create(**self._request)
            async for chunk in stream:
                if chunk.usage is not None:
                    self._queue.put_nowait(("usage", chunk.usage))
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        self._queue.put_nowait(("text", delta.content))
                    for call in delta.tool_calls or []:
                        fn = call.function
                        self._queue.put_nowait(("tool", call.index, call.id,
                                                fn.name if fn else None,
                                                fn.arguments if fn else None))
                    if choice.finish_reason:
                        self._queue.put_nowait(("finish", choice.finish_reason))
            self._queue.put_nowait(_DONE)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._queue.put_nowait(map_error(exc))
        finally:
            if stream is not None:
                await stream.close()

    async def run(self, on_token: TokenCallback | None = None) -> LLMResult:
        clock = self._client.clock
        started = clock()
        deadline = started + self._deadline_ms / 1000
        result = LLMResult(text="", model=self._request["model"])
        tools = _ToolAssembler()
        parts: list[str] = []
        self._producer = asyncio.create_task(self._produce())
        try:
            await self._consume(result, tools, parts, on_token, started, deadline)
        except LLMError as exc:
            exc.partial = "".join(parts)
            raise
        finally:
            if not self._producer.done():
                self._producer.cancel()
            await asyncio.gather(self._producer, return_exceptions=True)
        result.text = "".join(parts)
        result.cancelled = self.cancelled
        result.tool_calls = [] if self.cancelled else tools.calls()
        self._client.usage.add(result.usage)
        return result

    async def _consume(self, result: LLMResult, tools: _ToolAssembler, parts: list[str],
                       on_token: TokenCallback | None, started: float, deadline: float) -> None:
        clock = self._client.clock
        while not self.cancelled:
            first = result.first_token_ms is None
            wait = deadline - clock() if first else self._client.config.stall_timeout_seconds
            try:
                item = await asyncio.wait_for(self._queue.get(), timeout=max(wait, 0.001))
            except TimeoutError:
                if first:
                    raise LLMDeadlineExceeded(
                        "deadline", f"no token within {self._deadline_ms} ms") from None
                raise LLMError("stalled", "the stream went quiet") from None
            if item is _DONE or self.cancelled:
                break
            if isinstance(item, LLMError):
                raise item
            kind = item[0]
            if kind in ("text", "tool") and first:
                result.first_token_ms = round((clock() - started) * 1000, 1)
            if kind == "text":
                parts.append(item[1])
                await deliver_token(on_token, item[1])
            elif kind == "tool":
                tools.add(*item[1:])
            elif kind == "usage":
                result.usage = Usage(item[1].prompt_tokens or 0, item[1].completion_tokens or 0)
            elif kind == "finish":
                result.finish_reason = item[1]


class LLMClient:
    """Shared by every call of a daemon: one HTTP pool, one cache, one usage counter."""

    def __init__(self, config: LLMConfig, *, sdk: openai.AsyncOpenAI | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.usage = Usage()
        self._sdk = sdk
        self._cache: dict[str, tuple[float, LLMResult]] = {}

    @property
    def enabled(self) -> bool:
        return self._sdk is not None or self.config.enabled

    @property
    def sdk(self) -> openai.AsyncOpenAI:
        if self._sdk is None:  # created on first use: constructing an agent stays I/O-free
            self._sdk = openai.AsyncOpenAI(
                api_key=self.config.api_key or "not-needed",
                base_url=self.config.base_url,
                max_retries=self.config.max_retries,
                timeout=self.config.request_timeout_seconds,
            )
        return self._sdk

    def _request(self, messages: list[Message], *, model: str | None, cheap: bool,
                 tools: list[dict[str, Any]] | None, response_format: dict[str, Any] | None,
                 temperature: float | None, max_tokens: int | None) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": model or (self.config.model_cheap if cheap else self.config.model_critical),
            "messages": messages,
            "temperature": self.config.temperature if temperature is None else temperature,
            "max_tokens": max_tokens or self.config.max_tokens,
        }
        if tools:
            request["tools"] = tools
        if response_format:
            request["response_format"] = response_format
        return request

    def stream(self, messages: list[Message], *, model: str | None = None, cheap: bool = False,
               tools: list[dict[str, Any]] | None = None, deadline_ms: int | None = None,
               temperature: float | None = None, max_tokens: int | None = None) -> LLMStream:
        request = self._request(messages, model=model, cheap=cheap, tools=tools,
                                response_format=None, temperature=temperature,
                                max_tokens=max_tokens)
        request.update(stream=True, stream_options={"include_usage": True})
        return LLMStream(self, request, deadline_ms or self.config.first_token_deadline_ms)

    async def complete(self, messages: list[Message], *, model: str | None = None,
                       cheap: bool = False, tools: list[dict[str, Any]] | None = None,
                       response_format: dict[str, Any] | None = None,
                       temperature: float | None = None, max_tokens: int | None = None,
                       use_cache: bool = True) -> LLMResult:
        request = self._request(messages, model=model, cheap=cheap, tools=tools,
                                response_format=response_format, temperature=temperature,
                                max_tokens=max_tokens)
        key = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()
        ttl = self.config.cache_ttl_seconds
        if use_cache and ttl > 0:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > self.clock():
                cached = hit[1]
                return LLMResult(cached.text, list(cached.tool_calls), Usage(), cached.model,
                                 0.0, cached=True, finish_reason=cached.finish_reason)
        started = self.clock()
        try:
            response = await self.sdk.chat.completions.create(**request, stream=False)
            choice = response.choices[0]
        except Exception as exc:
            raise map_error(exc) from exc
        calls = [
            ToolCall(c.id, c.function.name, c.function.arguments)
            for c in choice.message.tool_calls or []
            if getattr(c, "function", None) is not None
        ]
        usage = Usage(response.usage.prompt_tokens, response.usage.completion_tokens) \
            if response.usage else Usage()
        result = LLMResult(choice.message.content or "", calls, usage, response.model,
                           round((self.clock() - started) * 1000, 1),
                           finish_reason=choice.finish_reason)
        self.usage.add(usage)
        if use_cache and ttl > 0:
            self._purge()
            self._cache[key] = (self.clock() + ttl, result)
        return result

    def _purge(self) -> None:
        now = self.clock()
        for key in [k for k, (expires, _) in self._cache.items() if expires <= now]:
            del self._cache[key]

    async def aclose(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()
