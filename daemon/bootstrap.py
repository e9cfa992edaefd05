"""Attach the feature layers (speech, brain, calls, telephony, scheduler) to `Services`.

Kept apart from `Services.start` so the store-only core starts, and is testable, on its own.
Order matters: speech models load first (once), then the brain service that needs the store,
then the call manager that needs both.
"""

from __future__ import annotations

import logging

from starlette.routing import Route, WebSocketRoute

from daemon.api import app as app_module
from daemon.api import calls, campaigns, media, ops, twilio
from daemon.services import Services

log = logging.getLogger(__name__)


def feature_routes() -> list[Route | WebSocketRoute]:
    return [
        Route("/api/v1/calls", calls.create_call, methods=["POST"]),
        Route("/api/v1/calls", calls.list_calls, methods=["GET"]),
        Route("/api/v1/calls/live", calls.live_events, methods=["GET"]),
        Route("/api/v1/calls/{call_id}", calls.get_call, methods=["GET"]),
        Route("/api/v1/campaigns", campaigns.create_campaign, methods=["POST"]),
        Route("/api/v1/campaigns", campaigns.list_campaigns, methods=["GET"]),
        Route("/api/v1/campaigns/{campaign_id}", campaigns.get_campaign, methods=["GET"]),
        Route("/api/v1/campaigns/{campaign_id}/export", campaigns.export_campaign, methods=["GET"]),
        Route("/api/v1/campaigns/{campaign_id}/{action}", campaigns.control_campaign,
              methods=["POST"]),
        Route("/api/v1/feedback", ops.feedback, methods=["POST"]),
        Route("/api/v1/train", ops.train, methods=["POST"]),
        Route("/api/v1/memory", ops.memory_timeline, methods=["GET"]),
        Route("/api/v1/usage/summary", ops.usage_summary, methods=["GET"]),
        Route("/api/v1/exports", ops.list_exports, methods=["GET"]),
        Route("/api/v1/exports", ops.create_export, methods=["POST"]),
        Route("/api/v1/exports/{name}", ops.download_export, methods=["GET"]),
        Route("/api/v1/dnc", ops.dnc_list, methods=["GET"]),
        Route("/api/v1/dnc", ops.dnc_add, methods=["POST"]),
        Route("/api/v1/dnc/{phone}", ops.dnc_remove, methods=["DELETE"]),
        Route("/api/v1/hooks/{adapter}", ops.hook, methods=["POST"]),
        Route("/twilio/voice", twilio.voice, methods=["POST"]),
        Route("/twilio/status", twilio.status, methods=["POST"]),
        WebSocketRoute("/twilio/media", media.media_stream),
    ]


async def attach_features(services: Services, port: int) -> None:
    from daemon.calls.brain import BrainService
    from daemon.calls.manager import CallManager
    from daemon.calls.speech import SpeechStack
    from daemon.campaigns.engine import CampaignEngine
    from daemon.scheduler import start_scheduler

    settings = services.settings
    services.port = port
    services.brain = BrainService(services)
    services.speech = await SpeechStack.load(settings, services.brain.on_tts_fallback)
    if settings.twilio_enabled:
        from daemon.telephony.twilio_client import TwilioTelephony

        services.telephony = TwilioTelephony.from_settings(settings)
    services.manager = CallManager(services)
    services.extras["shutdown_calls"] = services.manager.shutdown
    closed = await services.manager.reconcile(restarted=True)
    if closed:
        log.warning("closed %d call(s) left unfinished by the previous daemon run", closed)
    services.campaigns = CampaignEngine(services)
    open_campaigns = await services.campaign_store.open_ones()
    if open_campaigns or not services.campaigns.embedded:  # their workflows need our workers
        log.info("starting the campaign engine (%d open campaign(s))", len(open_campaigns))
        services.spawn(_start_engine(services), name="campaign-engine", essential=False)
    services.scheduler = start_scheduler(services)
    app_module.EXTRA_ROUTES[:] = feature_routes()
    active = await services.strategies.active()
    if active is not None:  # warm the TTS cache for the active strategy (no-op when cached)
        try:
            strategy = services.strategies.model(active)
        except Exception as exc:  # stored by an older version under looser rules: say so, serve
            log.warning("active strategy %s no longer validates (%s); ingest it again",
                        active["_id"], str(exc)[:200])
            return
        await services.on_strategy_ingested(active["_id"], strategy)


async def _start_engine(services: Services) -> None:
    from daemon.campaigns.engine import EngineUnavailable

    try:
        await services.campaigns.client()
    except EngineUnavailable as exc:  # campaigns answer 503 until it comes; calls go on
        log.error("campaign engine unavailable: %s", exc)
