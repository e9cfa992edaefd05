"""Run a simulated lead against this daemon's own media WebSocket, as an in-process task.

The lead is a real WebSocket client speaking Twilio's protocol to `ws://127.0.0.1:PORT/...`,
so a simulated call exercises exactly the code path a Twilio call does. Its report (what it
heard, voice-to-voice latency measured at the lead) is stored on the call as `simulation`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from daemon.simulate.lead import SimulatedLead
from daemon.simulate.scenario import load_named_scenario

if TYPE_CHECKING:
    from daemon.services import Services

log = logging.getLogger(__name__)


async def run_simulated_lead(svc: Services, call: dict[str, Any], stream_token: str) -> None:
    scenario = await asyncio.to_thread(load_named_scenario, call["scenario"])
    speech = svc.speech
    lead = SimulatedLead(
        f"ws://127.0.0.1:{svc.port}/twilio/media",
        {"call_id": call["_id"], "stream_token": stream_token},
        scenario,
        speech.piper.with_length_scale(scenario.voice_length_scale),
        speech.asr,
    )
    try:
        report = await lead.run()
    except Exception as exc:
        log.exception("simulated lead for %s failed", call["_id"])
        await _fail_if_never_connected(svc, call["_id"], f"simulated lead failed: {exc}")
        return
    await svc.calls.update(call["_id"], {"simulation": report.to_dict()})
    await _fail_if_never_connected(svc, call["_id"], "the simulated lead's stream was refused")


async def _fail_if_never_connected(svc: Services, call_id: str, why: str) -> None:
    """A lead that never got a media session leaves no session to finalise the call: do it
    here, so `--follow`, `tail` and the demo see the call end instead of waiting forever."""
    stored = await svc.calls.get(call_id)
    if stored is None or stored.get("status") != "initiated" or call_id in svc.manager.active:
        return
    await svc.calls.update(call_id, {"status": "failed", "outcome": "failed", "outcome_detail": why,
                                     "ended_at": datetime.now(UTC)})
    await svc.manager.finish_without_stream(call_id, "failed")
