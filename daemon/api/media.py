"""`WS /twilio/media`: Twilio Media Streams (and our simulated leads, which speak the same).

The socket is only trusted once its `start` event presents the one-time stream token that
`/twilio/voice` (or the call manager, for simulated calls) issued for that call. Unknown or
reused tokens close the socket with policy-violation and a log line saying why. Malformed
frames are logged and skipped; they never end the call. However the socket ends, the call is
finalised exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from daemon.api.common import services
from daemon.telephony import codec

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
POLICY_VIOLATION = 1008


async def media_stream(ws: WebSocket) -> None:
    svc = services(ws)  # type: ignore[arg-type]
    await ws.accept()
    decoder = codec.MediaStreamDecoder()
    start = await _await_start(ws, decoder)
    if start is None:
        return
    lock = asyncio.Lock()
    gone = False

    async def send(text: str) -> None:
        """Send a frame; once the far end has gone, frames are dropped (nobody is listening)."""
        nonlocal gone
        async with lock:
            if gone or ws.application_state is not WebSocketState.CONNECTED:
                return
            try:
                await ws.send_text(text)
            except Exception:  # the socket closed under us: the receive loop will see it
                gone = True

    manager = svc.manager
    attached = await manager.attach_stream(start, send)
    if isinstance(attached, str):
        log.warning("media stream %s refused: %s", start.stream_sid, attached)
        await ws.close(POLICY_VIOLATION, attached[:120])
        return
    session, finalize = attached
    errors = 0
    last_error_log = 0.0
    receiver = asyncio.create_task(_receive(ws))
    closer = asyncio.create_task(session.closed.wait())
    reason = "stream ended"
    try:
        await session.begin()
        while True:
            done, _ = await asyncio.wait({receiver, closer}, return_when=asyncio.FIRST_COMPLETED)
            if closer in done:
                reason = "agent hung up"
                break
            raw = receiver.result()
            if raw is None:
                reason = "socket closed by the far end"
                break
            receiver = asyncio.create_task(_receive(ws))
            event = decoder.receive(raw)
            if isinstance(event, codec.Media):
                if event.track in ("inbound", "inbound_track"):
                    session.on_media(event.payload)
            elif isinstance(event, codec.Mark):
                session.on_mark(event.name)
            elif isinstance(event, codec.Dtmf):
                session.on_dtmf(event.digit)
            elif isinstance(event, codec.Stop):
                reason = "stop event"
                break
            elif isinstance(event, codec.ProtocolError):
                errors += 1
                now = time.monotonic()
                if now - last_error_log > 5:
                    log.warning("call %s: bad frame skipped (%s; %d so far)",
                                session.ctx.call_id, event.reason, errors)
                    last_error_log = now
    finally:
        for task in (receiver, closer):
            task.cancel()
        await finalize(reason, errors)
        if ws.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close()


async def _receive(ws: WebSocket) -> str | None:
    try:
        message = await ws.receive()
    except (WebSocketDisconnect, RuntimeError):
        return None
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    if text is None:
        data = message.get("bytes") or b""
        text = data.decode("utf-8", errors="replace")
    return str(text)


async def _await_start(ws: WebSocket, decoder: codec.MediaStreamDecoder) -> codec.Start | None:
    """Read frames until `start`; anything else first (but `connected`) is refused."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            log.warning("media stream refused: no start event within %.0f s", START_TIMEOUT_S)
            await ws.close(POLICY_VIOLATION, "no start event")
            return None
        try:
            raw = await asyncio.wait_for(_receive(ws), remaining)
        except TimeoutError:
            continue
        if raw is None:
            return None
        event = decoder.receive(raw)
        if isinstance(event, codec.Connected):
            continue
        if isinstance(event, codec.Start):
            return event
        reason = event.reason if isinstance(event, codec.ProtocolError) else "media before start"
        log.warning("media stream refused: %s", reason)
        await ws.close(POLICY_VIOLATION, reason[:120])
        return None
