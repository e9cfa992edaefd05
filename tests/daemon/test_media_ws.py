"""`WS /twilio/media` with a raw websockets client speaking Twilio's protocol."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from daemon.media import mulaw
from daemon.media.resample import resample
from daemon.telephony import codec
from tests.daemon_proc import REPO, DaemonProcess

pytestmark = [pytest.mark.e2e, pytest.mark.audio]

SILENCE = b"\xff" * 160


@pytest.fixture(scope="module")
def ready(daemon: DaemonProcess) -> DaemonProcess:
    with daemon.client() as c:
        body = (REPO / "strategies" / "enterprise_saas.json").read_bytes()
        assert c.post("/api/v1/strategies", content=body).status_code == 201
    return daemon


def _new_call(daemon: DaemonProcess, phone: str) -> tuple[str, str]:
    with daemon.client() as c:
        r = c.post("/api/v1/calls", json={"phone": phone, "simulate": True, "external_lead": True})
        assert r.status_code == 201, r.text
        return r.json()["id"], r.json()["stream_token"]


def _ws_url(daemon: DaemonProcess) -> str:
    return daemon.url.replace("http://", "ws://") + "/twilio/media"


def _start(call_id: str, token: str) -> str:
    return codec.twilio_start("MZ" + "a" * 32, "CA" + "b" * 32, "AC" + "c" * 32,
                              {"call_id": call_id, "stream_token": token})


def _media(seq: int, payload: bytes) -> str:
    return codec.twilio_media("MZ" + "a" * 32, seq, seq, seq * 20, payload)


async def _refused(daemon: DaemonProcess, call_id: str, token: str) -> int | None:
    async with websockets.connect(_ws_url(daemon)) as ws:
        await ws.send(codec.twilio_connected())
        await ws.send(_start(call_id, token))
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 10)
    return info.value.rcvd.code if info.value.rcvd else None


def _call(daemon: DaemonProcess, call_id: str) -> dict[str, Any]:
    with daemon.client() as c:
        return dict(c.get(f"/api/v1/calls/{call_id}").json())


def test_unknown_and_reused_tokens_are_refused(ready: DaemonProcess) -> None:
    call_id, token = _new_call(ready, "+14155553001")
    assert asyncio.run(_refused(ready, call_id, "not-the-token")) == 1008

    async def use_once() -> None:
        async with websockets.connect(_ws_url(ready)) as ws:
            await ws.send(codec.twilio_connected())
            await ws.send(_start(call_id, token))
            first = json.loads(await asyncio.wait_for(ws.recv(), 15))
            assert first["event"] in ("media", "mark")

    asyncio.run(use_once())
    assert asyncio.run(_refused(ready, call_id, token)) == 1008
    assert "unknown, used, expired, or its call is over" in ready.log()


def test_media_before_start_is_refused(ready: DaemonProcess) -> None:
    async def run() -> int | None:
        async with websockets.connect(_ws_url(ready)) as ws:
            await ws.send(_media(1, SILENCE))
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 10)
        return info.value.rcvd.code if info.value.rcvd else None

    assert asyncio.run(run()) == 1008


def _speech(text: str) -> list[bytes]:
    """Piper says `text`; returned as 20 ms mu-law frames at 8 kHz."""
    import numpy as np
    from piper import PiperVoice

    from daemon.speech.piper_tts import bundled_voice_path

    voice = PiperVoice.load(bundled_voice_path())
    pcm = np.concatenate([c.audio_int16_array for c in voice.synthesize(text)])
    audio = mulaw.encode(resample(pcm, voice.config.sample_rate, 8000))
    audio += b"\xff" * (-len(audio) % 160)
    return [audio[i:i + 160] for i in range(0, len(audio), 160)]


def test_hostile_frames_do_not_end_the_call_and_a_drop_finalises_it(ready: DaemonProcess) -> None:
    call_id, token = _new_call(ready, "+14155553002")
    question = _speech("How much does it cost?")

    async def run() -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []
        async with websockets.connect(_ws_url(ready), max_size=None) as ws:

            cleared, answering = asyncio.Event(), asyncio.Event()

            async def reader() -> None:
                async for raw in ws:
                    message = json.loads(raw)
                    received.append(message)
                    if message["event"] == "clear":  # the question cut the greeting short
                        cleared.set()
                    elif message["event"] == "media" and cleared.is_set():
                        answering.set()
                    elif message["event"] == "mark":  # play instantly: echo every mark
                        await ws.send(codec.twilio_mark("MZ" + "a" * 32, 0, message["mark"]["name"]))

            async def send_paced(frames: list[bytes]) -> None:
                nonlocal seq
                start = time.monotonic()
                for i, frame in enumerate(frames):  # real-time pacing, as a phone line does
                    await ws.send(_media(seq, frame))
                    seq += 1
                    delay = start + (i + 1) * 0.02 - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)

            task = asyncio.create_task(reader())
            await ws.send(codec.twilio_connected())
            await ws.send(_start(call_id, token))
            for bad in ("not json", '{"event": "bogus"}', '{"event": "media"}',
                        json.dumps({"event": "media", "streamSid": "MZ" + "a" * 32,
                                    "media": {"payload": "%%%", "chunk": "1", "timestamp": "1",
                                              "track": "inbound"}}),
                        "x" * 70_000, "[1,2]"):
                await ws.send(bad)
            seq = 2
            await send_paced([SILENCE] * 150 + question)  # 3 s into the greeting, the question
            waited = 0
            while not answering.is_set() and waited < 750:  # silence until the answer starts
                await send_paced([SILENCE] * 10)
                waited += 10
            await send_paced([SILENCE] * 150)  # 3 s of the answer, then the line drops
            task.cancel()
        # the socket is gone without a `stop`: the daemon must finalise the call itself
        return received

    received = asyncio.run(run())
    assert any(m["event"] == "media" for m in received), "the greeting arrived"
    deadline = time.monotonic() + 20
    call = _call(ready, call_id)
    while call["status"] != "completed" and time.monotonic() < deadline:
        time.sleep(0.2)
        call = _call(ready, call_id)
    assert call["status"] == "completed" and call["duration_seconds"] > 0
    roles = [(t["role"], t["text"]) for t in call["turns"]]
    lead = [text for role, text in roles if role == "lead"]
    assert lead and "cost" in lead[0].lower(), roles
    answers = [text for role, text in roles[roles.index(("lead", lead[0])):] if role == "agent"]
    assert answers and "$499" in answers[0], roles
    assert "bad frame skipped" in ready.log()


def test_a_backchannel_over_the_agent_does_not_interrupt(ready: DaemonProcess) -> None:
    """"Okay." while the greeting plays: no `clear`, no lead turn, the greeting is not cut."""
    call_id, token = _new_call(ready, "+14155553003")
    okay = _speech("Okay.")
    sid = "MZ" + "a" * 32

    async def run() -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []
        echo = asyncio.Event()  # a phone echoes marks once the audio has played; hold them first
        held: list[str] = []
        async with websockets.connect(_ws_url(ready), max_size=None) as ws:

            async def reader() -> None:
                async for raw in ws:
                    message = json.loads(raw)
                    received.append(message)
                    if message["event"] == "mark":
                        held.append(message["mark"]["name"])
                    if echo.is_set():
                        while held:
                            await ws.send(codec.twilio_mark(sid, 0, held.pop(0)))

            task = asyncio.create_task(reader())
            await ws.send(codec.twilio_connected())
            await ws.send(_start(call_id, token))
            frames = [SILENCE] * 50 + okay + [SILENCE] * 100
            start = time.monotonic()
            for i, frame in enumerate(frames):
                await ws.send(_media(i + 2, frame))
                delay = start + (i + 1) * 0.02 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            echo.set()  # from now on marks go back as they come: release the held ones
            while held:
                await ws.send(codec.twilio_mark(sid, 0, held.pop(0)))
            count, deadline = -1, time.monotonic() + 30
            while count != len(received) and time.monotonic() < deadline:
                count = len(received)  # the rest of the greeting: wait for 1.5 s of quiet
                await asyncio.sleep(1.5)
            await ws.send(codec.twilio_stop(sid, 999, "AC" + "c" * 32, "CA" + "b" * 32))
            await asyncio.sleep(0.5)
            task.cancel()
        return received

    received = asyncio.run(run())
    assert any(m["event"] == "media" for m in received)
    assert not any(m["event"] == "clear" for m in received), "a backchannel must not barge in"
    deadline = time.monotonic() + 20
    call = _call(ready, call_id)
    while call["status"] != "completed" and time.monotonic() < deadline:
        time.sleep(0.2)
        call = _call(ready, call_id)
    greeting = call["turns"][0]
    assert greeting["role"] == "agent" and not greeting["interrupted"], call["turns"]
    assert [t for t in call["turns"] if t["role"] == "lead"] == [], call["turns"]
