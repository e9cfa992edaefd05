"""ElevenLabs REST and WebSocket against a loopback fake, and the fallback chain to Piper."""

from __future__ import annotations

from contextlib import aclosing

import pytest

from agentcore.tone import VoiceSettings
from daemon.speech.elevenlabs_tts import ElevenLabsRestTTS, ElevenLabsWsTTS, language_code
from daemon.speech.piper_tts import PiperTTS
from daemon.speech.tts import FallbackTTS, TTSError

from .fake_elevenlabs import FakeElevenLabs

VOICE = VoiceSettings(stability=0.6, similarity_boost=0.75, style=0.1, speed=1.05)
KEY = "test-key-123"


def rest(fake: FakeElevenLabs) -> ElevenLabsRestTTS:
    return ElevenLabsRestTTS(KEY, base_url=fake.base_url, model_id="eleven_flash_v2_5")


def ws(fake: FakeElevenLabs) -> ElevenLabsWsTTS:
    return ElevenLabsWsTTS(KEY, base_url=fake.base_url, model_id="eleven_flash_v2_5")


async def test_rest_streams_ulaw_with_voice_settings_and_key(
    fake_elevenlabs: FakeElevenLabs,
) -> None:
    tts = rest(fake_elevenlabs)
    try:
        audio = await tts.synthesize("Hello from the REST API.", VOICE, voice_id="persona-voice")
    finally:
        await tts.close()
    assert audio == fake_elevenlabs.audio
    (call,) = fake_elevenlabs.rest_calls
    assert call.voice_id == "persona-voice"
    assert call.query["output_format"] == "ulaw_8000"
    assert call.headers["xi-api-key"] == KEY
    assert call.body["text"] == "Hello from the REST API."
    assert call.body["model_id"] == "eleven_flash_v2_5"
    settings = call.body["voice_settings"]
    assert (settings["stability"], settings["similarity_boost"]) == (0.6, 0.75)
    assert (settings["style"], settings["speed"]) == (0.1, 1.05)
    assert "language_code" not in call.body


async def test_rest_uses_default_voice_and_language_code(fake_elevenlabs: FakeElevenLabs) -> None:
    tts = ElevenLabsRestTTS(KEY, base_url=fake_elevenlabs.base_url, default_voice_id="default-v")
    try:
        await tts.synthesize("Namaste.", VOICE, locale="hi-IN")
    finally:
        await tts.close()
    (call,) = fake_elevenlabs.rest_calls
    assert call.voice_id == "default-v"
    assert call.body["language_code"] == "hi"
    assert language_code("en-GB") is None


async def test_rest_error_raises(fake_elevenlabs: FakeElevenLabs) -> None:
    fake_elevenlabs.rest_status = 500
    tts = rest(fake_elevenlabs)
    try:
        with pytest.raises(TTSError, match="500"):
            await tts.synthesize("Hello.", VOICE)
    finally:
        await tts.close()


async def test_websocket_stream_input_protocol(fake_elevenlabs: FakeElevenLabs) -> None:
    tts = ws(fake_elevenlabs)
    try:
        audio = await tts.synthesize("Hello over the socket.", VOICE, voice_id="persona-voice")
    finally:
        await tts.close()
    assert audio == fake_elevenlabs.audio
    (session,) = fake_elevenlabs.ws_sessions
    assert session.voice_id == "persona-voice"
    assert session.query["output_format"] == "ulaw_8000"
    assert session.query["model_id"] == "eleven_flash_v2_5"
    assert session.headers["xi-api-key"] == KEY
    init, text, end = session.messages
    assert init["text"] == " "
    assert init["voice_settings"] == {
        "stability": 0.6,
        "similarity_boost": 0.75,
        "style": 0.1,
        "speed": 1.05,
    }
    assert text["text"].strip() == "Hello over the socket."
    assert text["try_trigger_generation"] is True
    assert end == {"text": ""}


async def test_websocket_prewarmed_socket_is_used(fake_elevenlabs: FakeElevenLabs) -> None:
    tts = ws(fake_elevenlabs)
    try:
        await tts.warm_connection()
        assert fake_elevenlabs.ws_connections == 1
        assert await tts.synthesize("First sentence.", VOICE) == fake_elevenlabs.audio
        assert await tts.synthesize("Second sentence.", VOICE) == fake_elevenlabs.audio
    finally:
        await tts.close()
    first, second = fake_elevenlabs.ws_sessions
    assert first.connection_index == 0  # the pre-opened socket carried the first utterance
    assert [m["text"].strip() for m in second.messages[1:2]] == ["Second sentence."]


async def test_websocket_error_message_raises(fake_elevenlabs: FakeElevenLabs) -> None:
    fake_elevenlabs.ws_mode = "error"
    tts = ws(fake_elevenlabs)
    try:
        with pytest.raises(TTSError, match="fake failure"):
            await tts.synthesize("Hello.", VOICE)
    finally:
        await tts.close()


@pytest.mark.audio  # the chain ends in the real Piper voice
async def test_rest_500_falls_back_to_piper(fake_elevenlabs: FakeElevenLabs, piper: PiperTTS) -> None:
    fake_elevenlabs.rest_status = 500
    reasons: list[str] = []
    chain = FallbackTTS([rest(fake_elevenlabs), piper], on_fallback=reasons.append)
    try:
        audio = await chain.synthesize("Sorry, could you repeat that?", VOICE)
    finally:
        await chain.links[0].close()
    assert len(audio) > 8000 and audio != fake_elevenlabs.audio  # Piper spoke it instead
    assert len(fake_elevenlabs.rest_calls) == 1
    (reason,) = reasons
    assert "elevenlabs-rest" in reason and "500" in reason and "piper" in reason


@pytest.mark.audio  # the chain ends in the real Piper voice
@pytest.mark.parametrize("mode", ["reject", "error", "hang"])
async def test_websocket_failure_falls_back_to_rest(
    fake_elevenlabs: FakeElevenLabs, piper: PiperTTS, mode: str
) -> None:
    fake_elevenlabs.ws_mode = mode  # type: ignore[assignment]
    reasons: list[str] = []
    chain = FallbackTTS(
        [ws(fake_elevenlabs), rest(fake_elevenlabs), piper],
        on_fallback=reasons.append,
        first_audio_timeout_s=1.0,
    )
    try:
        audio = await chain.synthesize("Let me check that for you.", VOICE)
        assert audio == fake_elevenlabs.audio  # from REST, not Piper
        assert len(fake_elevenlabs.rest_calls) == 1
        assert len(reasons) == 1 and "elevenlabs-ws" in reasons[0]
        # the failed link cools down: the next sentence goes straight to REST
        attempts = fake_elevenlabs.ws_attempts
        assert await chain.synthesize("One more thing.", VOICE) == fake_elevenlabs.audio
        assert fake_elevenlabs.ws_attempts == attempts
        assert len(reasons) == 1
    finally:
        await chain.links[0].close()
        await chain.links[1].close()


async def test_failure_after_audio_cuts_the_utterance_short(
    fake_elevenlabs: FakeElevenLabs,
) -> None:
    fake_elevenlabs.ws_mode = "partial"
    reasons: list[str] = []
    chain = FallbackTTS([ws(fake_elevenlabs), rest(fake_elevenlabs)], on_fallback=reasons.append)
    try:
        audio = await chain.synthesize("This will be interrupted.", VOICE)
    finally:
        await chain.close()
    # words already played cannot be re-said by the next link without repeating them
    assert audio == fake_elevenlabs.audio[: fake_elevenlabs.chunk_bytes]
    assert fake_elevenlabs.rest_calls == []
    assert len(reasons) == 1 and "mid-utterance" in reasons[0]


@pytest.mark.audio  # the chain ends in the real Piper voice
async def test_async_on_fallback_is_awaited(fake_elevenlabs: FakeElevenLabs, piper: PiperTTS) -> None:
    fake_elevenlabs.rest_status = 503
    seen: list[str] = []

    async def record(reason: str) -> None:
        seen.append(reason)

    chain = FallbackTTS([rest(fake_elevenlabs), piper], on_fallback=record)
    try:
        async with aclosing(chain.stream("Hello.", VOICE)) as chunks:
            assert await anext(chunks)
    finally:
        await chain.links[0].close()
    assert len(seen) == 1 and "503" in seen[0]


async def test_last_link_failure_propagates(fake_elevenlabs: FakeElevenLabs) -> None:
    fake_elevenlabs.rest_status = 500
    chain = FallbackTTS([rest(fake_elevenlabs)])
    try:
        with pytest.raises(TTSError):
            await chain.synthesize("Hello.", VOICE)
    finally:
        await chain.close()


async def test_websocket_prewarmed_for_the_personas_locale(fake_elevenlabs: FakeElevenLabs) -> None:
    tts = ws(fake_elevenlabs)
    try:
        await tts.warm_connection(locale="en-IN")  # the call start of an en-IN persona
        assert await tts.synthesize("Namaste.", VOICE, locale="en-IN") == fake_elevenlabs.audio
    finally:
        await tts.close()
    assert fake_elevenlabs.ws_sessions[0].connection_index == 0  # the warm socket was used
