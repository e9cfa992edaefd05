"""ElevenLabs TTS, asking for `ulaw_8000` so audio goes to the phone without any transcoding.

Two transports, same voice and same audio (they share a `cache_id`):

- `ElevenLabsRestTTS`: the official SDK's `AsyncElevenLabs.text_to_speech.stream`, i.e.
  `POST {base}/v1/text-to-speech/{voice_id}/stream?output_format=ulaw_8000` with JSON
  `{text, model_id, voice_settings{stability, similarity_boost, style, speed}}` and the
  `xi-api-key` header; the body is raw mu-law bytes as they are generated.
- `ElevenLabsWsTTS`: the stream-input WebSocket
  (`{base}/v1/text-to-speech/{voice_id}/stream-input?model_id=…&output_format=ulaw_8000`), which
  the async SDK does not wrap, so it is spoken here with `websockets`. Per utterance: an init
  message `{"text": " ", "voice_settings": …, "generation_config": …}`, the text with
  `try_trigger_generation` and `flush`, then `{"text": ""}` (end of input); the server answers
  `{"audio": base64, …}` messages and finally `{"isFinal": true}`. The socket's TCP/TLS/WS
  handshake is the slow part, so `warm_connection` opens one ahead of time (call start) and
  each use opens the next in the background.

`ELEVENLABS_BASE_URL` (http or https; ws/wss is derived) points both at another server, e.g.
the loopback fake in the tests.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import urllib.parse
from collections.abc import AsyncGenerator, Coroutine
from typing import Any

from agentcore.tone import VoiceSettings
from daemon.speech.tts import OUTPUT_FORMAT, TTSBackend, TTSError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.elevenlabs.io"
# first audio after 50 characters, then larger chunks for better prosody
CHUNK_LENGTH_SCHEDULE = [50, 120, 160, 250]


def voice_settings_payload(voice: VoiceSettings) -> dict[str, float]:
    """Our `VoiceSettings` as ElevenLabs' `voice_settings` JSON object."""
    return {
        "stability": voice.stability,
        "similarity_boost": voice.similarity_boost,
        "style": voice.style,
        "speed": voice.speed,
    }


def language_code(locale: str) -> str | None:
    """ISO 639-1 code to enforce for non-English locales ("hi-IN" -> "hi"); None for English."""
    lang = locale.replace("_", "-").split("-")[0].lower()
    return None if lang in ("", "en") else lang


class _ElevenLabsBase(TTSBackend):
    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None,
        model_id: str,
        default_voice_id: str,
    ) -> None:
        if not api_key:
            raise ValueError("ElevenLabs needs an API key (ELEVENLABS_API_KEY)")
        self._api_key = api_key
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.model_id = model_id
        self.default_voice_id = default_voice_id

    def cache_id(self, voice_id: str | None = None) -> str:
        return f"elevenlabs:{self.model_id}:{voice_id or self.default_voice_id}"


class ElevenLabsRestTTS(_ElevenLabsBase):
    """HTTP streaming synthesis through the official async SDK."""

    name = "elevenlabs-rest"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        model_id: str = "eleven_flash_v2_5",
        default_voice_id: str = "21m00Tcm4TlvDq8ikWAM",
        timeout_s: float = 20.0,
    ) -> None:
        super().__init__(api_key, base_url=base_url, model_id=model_id, default_voice_id=default_voice_id)
        import httpx
        from elevenlabs.client import AsyncElevenLabs

        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=5.0))
        self._client = AsyncElevenLabs(api_key=api_key, base_url=self.base_url, httpx_client=self._http)

    async def stream(
        self,
        text: str,
        voice: VoiceSettings,
        voice_id: str | None = None,
        locale: str = "en-US",
    ) -> AsyncGenerator[bytes, None]:
        if not text.strip():
            return
        from elevenlabs import VoiceSettings as SdkVoiceSettings
        from elevenlabs.core.api_error import ApiError

        extra: dict[str, Any] = {}
        if lang := language_code(locale):
            extra["language_code"] = lang
        chunks = self._client.text_to_speech.stream(
            urllib.parse.quote(voice_id or self.default_voice_id, safe=""),
            text=text,
            model_id=self.model_id,
            output_format=OUTPUT_FORMAT,
            voice_settings=SdkVoiceSettings(
                stability=voice.stability,
                similarity_boost=voice.similarity_boost,
                style=voice.style,
                speed=voice.speed,
            ),
            **extra,
        )
        try:
            async for chunk in chunks:
                if chunk:
                    yield chunk
        except ApiError as exc:
            raise TTSError(f"ElevenLabs HTTP {exc.status_code}: {exc.body}") from exc
        finally:
            await chunks.aclose()

    def describe(self) -> str:
        return f"elevenlabs rest {OUTPUT_FORMAT} ({self.model_id})"

    async def close(self) -> None:
        await self._http.aclose()


class ElevenLabsWsTTS(_ElevenLabsBase):
    """Stream-input WebSocket synthesis with a pre-opened socket per voice."""

    name = "elevenlabs-ws"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        model_id: str = "eleven_flash_v2_5",
        default_voice_id: str = "21m00Tcm4TlvDq8ikWAM",
        open_timeout_s: float = 5.0,
        inactivity_timeout_s: int = 60,
    ) -> None:
        super().__init__(api_key, base_url=base_url, model_id=model_id, default_voice_id=default_voice_id)
        self._open_timeout_s = open_timeout_s
        self._inactivity_timeout_s = inactivity_timeout_s
        self._warm: dict[str, Any] = {}  # url -> open websockets ClientConnection
        self._keep_warm: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def url(self, voice_id: str | None = None, locale: str = "en-US") -> str:
        parts = urllib.parse.urlsplit(self.base_url)
        scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
        vid = urllib.parse.quote(voice_id or self.default_voice_id, safe="")
        query: dict[str, str] = {
            "model_id": self.model_id,
            "output_format": OUTPUT_FORMAT,
            "inactivity_timeout": str(self._inactivity_timeout_s),
        }
        if lang := language_code(locale):
            query["language_code"] = lang
        segment = urllib.parse.quote(vid, safe="")  # an id, never a path ("../../v1/user")
        path = f"{parts.path.rstrip('/')}/v1/text-to-speech/{segment}/stream-input"
        return urllib.parse.urlunsplit((scheme, parts.netloc, path, urllib.parse.urlencode(query), ""))

    async def _connect(self, url: str) -> Any:
        from websockets.asyncio.client import connect

        return await connect(
            url,
            additional_headers={"xi-api-key": self._api_key},
            open_timeout=self._open_timeout_s,
            close_timeout=1.0,
            max_size=None,
        )

    def _take_warm(self, url: str) -> Any:
        from websockets.protocol import State

        ws = self._warm.pop(url, None)
        if ws is not None and ws.state is not State.OPEN:
            return None
        return ws

    async def warm_connection(self, voice_id: str | None = None, locale: str = "en-US") -> None:
        url = self.url(voice_id, locale)  # the same URL stream() will ask for
        self._keep_warm.add(url)
        if url not in self._warm:
            self._warm[url] = await self._connect(url)

    def _refill(self, url: str) -> None:
        async def refill() -> None:
            try:
                ws = await self._connect(url)
            except Exception as exc:  # the next stream() connects itself, or falls back
                log.info("ElevenLabs WS pre-connect failed: %s", exc)
                return
            old = self._warm.pop(url, None)
            self._warm[url] = ws
            if old is not None:
                await old.close()

        self._spawn(refill())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_utterance(self, ws: Any, text: str, voice: VoiceSettings) -> None:
        init = {
            "text": " ",
            "voice_settings": voice_settings_payload(voice),
            "generation_config": {"chunk_length_schedule": CHUNK_LENGTH_SCHEDULE},
        }
        await ws.send(json.dumps(init))
        await ws.send(json.dumps({"text": text.strip() + " ", "try_trigger_generation": True, "flush": True}))
        await ws.send(json.dumps({"text": ""}))

    async def stream(
        self,
        text: str,
        voice: VoiceSettings,
        voice_id: str | None = None,
        locale: str = "en-US",
    ) -> AsyncGenerator[bytes, None]:
        if not text.strip():
            return
        from websockets.exceptions import ConnectionClosed

        url = self.url(voice_id, locale)
        ws = self._take_warm(url)
        if ws is not None and url in self._keep_warm:
            self._refill(url)
        try:
            if ws is not None:
                try:
                    await self._send_utterance(ws, text, voice)
                except ConnectionClosed:  # the warm socket went stale: one fresh try
                    await ws.close()
                    ws = None
            if ws is None:
                ws = await self._connect(url)
                await self._send_utterance(ws, text, voice)
            async with contextlib.aclosing(self._receive(ws)) as received:
                async for audio in received:
                    yield audio
        except ConnectionClosed as exc:
            raise TTSError(f"ElevenLabs WebSocket closed: {exc}") from exc
        finally:
            if ws is not None:
                # in the background: a barge-in must not wait for the closing handshake
                self._spawn(ws.close())

    async def _receive(self, ws: Any) -> AsyncGenerator[bytes, None]:
        yielded = False
        async for raw in ws:
            message = json.loads(raw)
            audio = message.get("audio")
            if audio:
                yielded = True
                yield base64.b64decode(audio)
            elif message.get("error") or message.get("message"):
                raise TTSError(f"ElevenLabs WebSocket error: {message}")
            if message.get("isFinal"):
                return
        if not yielded:
            raise TTSError("ElevenLabs WebSocket closed without audio")

    def describe(self) -> str:
        return f"elevenlabs ws {OUTPUT_FORMAT} ({self.model_id})"

    async def close(self) -> None:
        # let pending pre-connects and closing handshakes finish (each is bounded by its
        # timeout): cancelling them could leave a socket open
        self._keep_warm.clear()
        while self._tasks:
            pending = list(self._tasks)
            await asyncio.gather(*pending, return_exceptions=True)
            self._tasks.difference_update(pending)
        warm, self._warm = list(self._warm.values()), {}
        for ws in warm:
            await ws.close()
