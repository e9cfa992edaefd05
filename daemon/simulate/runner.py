"""Run a simulated lead against this daemon's own media WebSocket, as an in-process task.

The lead is a real WebSocket client speaking Twilio's protocol to `ws://127.0.0.1:PORT/...`,
so a simulated call exercises exactly the code path a Twilio call does. Its report (what it
heard, voice-to-voice latency measured at the lead) is stored on the call as `simulation`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from daemon.simulate.lead import SimulatedLead
from daemon.simulate.scenario import load_scenario

if TYPE_CHECKING:
    from daemon.services import Services

log = logging.getLogger(__name__)


async def run_simulated_lead(svc: Services, call: dict[str, Any], stream_token: str) -> None:
    scenario = load_scenario(call["scenario"])
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
    except Exception:
        log.exception("simulated lead for %s failed", call["_id"])
        return
    await svc.calls.update(call["_id"], {"simulation": report.to_dict()})
