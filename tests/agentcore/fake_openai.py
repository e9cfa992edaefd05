"""A loopback server that speaks the OpenAI Chat Completions wire format.

Why a real socket instead of mocking the SDK: the LLM client's job is to survive what real
servers do (SSE framing, a trailing usage chunk, streamed tool-call fragments, 429s, a stream
that goes quiet, a client hanging up mid-stream). Driving the real `openai` SDK over real HTTP
is the only way to know our code handles those bytes, so the server is raw asyncio HTTP/1.1
with every response scripted by the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Usage:
    prompt_tokens: int = 11
    completion_tokens: int = 7

    def to_json(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


@dataclass
class ToolCallSpec:
    name: str
    arguments: dict[str, Any]
    id: str = "call_1"


@dataclass
class JSONReply:
    """A non-streamed `chat.completion` body."""

    content: str | None = "Hello from the model."
    tool_calls: list[ToolCallSpec] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


@dataclass
class StreamReply:
    """An SSE stream: one chunk per token, tool-call fragments, usage chunk, `[DONE]`.

    `stall_after` stops sending after that many content chunks and holds the connection open
    until the client goes away (a stalled upstream); `stall_before_headers` never even sends
    the response head.
    """

    tokens: list[str] = field(default_factory=lambda: ["Hello", " there", "."])
    tool_calls: list[ToolCallSpec] = field(default_factory=list)
    usage: Usage | None = field(default_factory=Usage)
    stall_after: int | None = None
    stall_before_headers: bool = False


@dataclass
class ErrorReply:
    status: int = 500
    message: str = "upstream exploded"
    headers: dict[str, str] = field(default_factory=dict)


Scripted = JSONReply | StreamReply | ErrorReply

_REASONS = {200: "OK", 400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error"}


class FakeOpenAI:
    """Answer each POST /v1/chat/completions with the next scripted reply (500 when none left)."""

    def __init__(self) -> None:
        self.script: deque[Scripted] = deque()
        self.requests: list[dict[str, Any]] = []
        self.disconnected = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def enqueue(self, *replies: Scripted) -> None:
        self.script.extend(replies)

    async def start(self) -> FakeOpenAI:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        for task in list(self._handlers):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.disconnected.set()
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append(json.loads(body or b"{}"))
        reply = self.script.popleft() if self.script else ErrorReply(500, "no scripted reply")
        if isinstance(reply, ErrorReply):
            payload = {"error": {"message": reply.message, "type": "server_error", "code": None}}
            await self._send(writer, reply.status, json.dumps(payload).encode(), reply.headers)
        elif isinstance(reply, JSONReply):
            await self._send(writer, 200, json.dumps(_completion(reply)).encode(), {})
        else:
            await self._stream(reader, writer, reply)

    async def _send(
        self, writer: asyncio.StreamWriter, status: int, body: bytes, extra: dict[str, str]
    ) -> None:
        head = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
            "content-type: application/json",
            f"content-length: {len(body)}",
            "connection: close",
            *(f"{k}: {v}" for k, v in extra.items()),
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()

    async def _stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, reply: StreamReply
    ) -> None:
        if reply.stall_before_headers:
            await self._wait_for_hangup(reader)
            return
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            "transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        )
        writer.write(head.encode())
        for i, token in enumerate(reply.tokens):
            if reply.stall_after is not None and i >= reply.stall_after:
                await writer.drain()
                await self._wait_for_hangup(reader)
                return
            delta: dict[str, Any] = {"content": token}
            if i == 0:
                delta["role"] = "assistant"
            await self._event(writer, _chunk([{"index": 0, "delta": delta, "finish_reason": None}]))
        for n, call in enumerate(reply.tool_calls):
            args = json.dumps(call.arguments)
            first = {
                "index": n,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            await self._event(writer, _chunk([_tool_delta(first)]))
            # arguments arrive in fragments, as real servers send them
            for start in range(0, len(args), 5):
                part = {"index": n, "function": {"arguments": args[start : start + 5]}}
                await self._event(writer, _chunk([_tool_delta(part)]))
        finish = "tool_calls" if reply.tool_calls else "stop"
        await self._event(writer, _chunk([{"index": 0, "delta": {}, "finish_reason": finish}]))
        if reply.usage is not None:
            await self._event(writer, _chunk([], usage=reply.usage.to_json()))
        await self._data(writer, "[DONE]")
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def _wait_for_hangup(self, reader: asyncio.StreamReader) -> None:
        # The client closing its socket shows up as EOF on our side.
        while await reader.read(1024):
            pass
        self.disconnected.set()

    async def _event(self, writer: asyncio.StreamWriter, payload: dict[str, Any]) -> None:
        await self._data(writer, json.dumps(payload))

    async def _data(self, writer: asyncio.StreamWriter, data: str) -> None:
        frame = f"data: {data}\n\n".encode()
        writer.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
        await writer.drain()


def _tool_delta(call: dict[str, Any]) -> dict[str, Any]:
    return {"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}


def _chunk(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake-model",
        "choices": choices,
    }
    if usage is not None:
        out["usage"] = usage
    return out


def _completion(reply: JSONReply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
            }
            for call in reply.tool_calls
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": "fake-model",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": reply.usage.to_json(),
    }
