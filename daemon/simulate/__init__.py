"""Simulated leads: rehearse a strategy over the real media WebSocket, with no phone account.

`scenario` loads the JSON scripts in `strategies/scenarios/`; `lead.SimulatedLead` plays one
against the daemon's `/twilio/media`, speaking Twilio's Media Streams protocol exactly, and
returns a `report.LeadReport` with what it heard and measured (voice-to-voice latency, barge-in
`clear` latency, playback underruns). Importing this package loads no speech model.
"""

from daemon.simulate.report import AgentTurnReport, ExpectResult, LeadReport, LineReport
from daemon.simulate.scenario import (
    DEFAULT_SCENARIO,
    Scenario,
    ScenarioError,
    list_scenarios,
    load_scenario,
)

__all__ = [
    "DEFAULT_SCENARIO",
    "AgentTurnReport",
    "ExpectResult",
    "LeadReport",
    "LineReport",
    "Scenario",
    "ScenarioError",
    "list_scenarios",
    "load_scenario",
]
