"""A loopback stand-in for ElevenLabs' TTS API, speaking its real wire formats.

- `POST /v1/text-to-speech/{voice_id}/stream?output_format=…`: JSON body in, raw audio bytes
  streamed out (or a JSON error with `rest_status`).
- `WS /v1/text-to-speech/{voice_id}/stream-input?model_id=…&output_format=…`: JSON messages in
  (init with `" "`, text, `""` to end), `{"audio": base64, "isFinal": null}` messages and a
  final `{"isFinal": true}` out.

It records every request so tests can check what the client sent, and serves `audio` (real
mu-law bytes, by default a tone). Runs uvicorn in a background thread on an unused port.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from daemon.media import mulaw

WsMode = Literal["ok", "reject", "error", "hang", "partial"]


def tone_ulaw(seconds: float = 0.6, freq: float = 440.0) -> bytes:
    """A sine tone as 8 kHz mu-law: real audio with a known, deterministic byte content."""
    t = np.arange(int(8000 * seconds)) / 8000.0
    return mulaw.encode((8000 * np.sin(2 * np.pi * freq * t)).astype(np.int16))


@dataclass
class RestCall:
    voice_id: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class WsSession:
    voice_id: str
    query: dict[str, str]
    headers: dict[str, str]
    connection_index: int
    messages: list[dict[str, Any]] = field(default_factory=list)


class FakeElevenLabs:
    """Start with `start()`; point clients at `base_url`; flip `rest_status` / `ws_mode`."""

    def __init__(self, audio: bytes | None = None, chunk_bytes: int = 800) -> None:
        self.audio = audio if audio is not None else tone_ulaw()
        self.chunk_bytes = chunk_bytes
        self.rest_status = 200
        self.ws_mode: WsMode = "ok"
        self.rest_calls: list[RestCall] = []
        self.ws_sessions: list[WsSession] = []
        self.ws_attempts = 0
        self.ws_connections = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app = Starlette(
            routes=[
                Route("/v1/text-to-speech/{voice_id}/stream", self._rest, methods=["POST"]),
                WebSocketRoute("/v1/text-to-speech/{voice_id}/stream-input", self._ws),
            ]
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        self.rest_status = 200
        self.ws_mode = "ok"
        self.rest_calls.clear()
        self.ws_sessions.clear()
        self.ws_attempts = 0
        self.ws_connections = 0

    async def _rest(self, request: Request) -> Response:
        self.rest_calls.append(
            RestCall(
                voice_id=request.path_params["voice_id"],
                query=dict(request.query_params),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=json.loads(await request.body()),
            )
        )
        if self.rest_status != 200:
            detail = {"status": "internal_error", "message": "fake failure"}
            return JSONResponse({"detail": detail}, status_code=self.rest_status)

        async def body() -> Any:
            for i in range(0, len(self.audio), self.chunk_bytes):
                yield self.audio[i : i + self.chunk_bytes]

        return StreamingResponse(body(), media_type="audio/basic")

    async def _ws(self, websocket: WebSocket) -> None:
        self.ws_attempts += 1
        if self.ws_mode == "reject":
            await websocket.close(code=1008)  # before accept: the handshake fails (HTTP 403)
            return
        await websocket.accept()
        index = self.ws_connections
        self.ws_connections += 1
        session = WsSession(
            connection_index=index,
            voice_id=websocket.path_params["voice_id"],
            query=dict(websocket.query_params),
            headers={k.lower(): v for k, v in websocket.headers.items()},
        )
        try:
            while True:
                message = json.loads(await websocket.receive_text())
                if not session.messages:
                    self.ws_sessions.append(session)
                session.messages.append(message)
                if message.get("text") == "":
                    break
        except WebSocketDisconnect:
            return  # a pre-warmed socket closed unused
        if self.ws_mode == "hang":  # read everything, answer nothing until the client leaves
            try:
                while True:
                    await websocket.receive_text()
            except WebSocketDisconnect:
                return
        if self.ws_mode == "error":
            await websocket.send_text(json.dumps({"message": "fake failure", "error": "internal"}))
            await websocket.close(code=1011)
            return
        for i in range(0, len(self.audio), self.chunk_bytes):
            chunk = base64.b64encode(self.audio[i : i + self.chunk_bytes]).decode("ascii")
            await websocket.send_text(json.dumps({"audio": chunk, "isFinal": None}))
            if self.ws_mode == "partial":  # the provider dies after the first chunk
                await websocket.close(code=1011)
                return
        await websocket.send_text(json.dumps({"isFinal": True}))
        await websocket.close()

    def start(self) -> FakeElevenLabs:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        for _ in range(500):  # up to ~5 s for the socket to bind
            if self._server.started:
                break
            time.sleep(0.01)
        else:
            raise RuntimeError("fake ElevenLabs server did not start")
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
