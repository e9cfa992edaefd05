"""Everything a running daemon holds, built once at start-up and closed once at shutdown.

Routes reach it as `request.app.state.services`. Speech models are loaded here, once per daemon,
and shared by every call.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from agentcore.strategy import Strategy
from daemon.config import Settings
from daemon.live import LiveBus
from daemon.store.calls import CallRepository
from daemon.store.campaigns import CampaignRepository
from daemon.store.database import Database, read_or_create_secret
from daemon.store.dnc import DncRepository
from daemon.store.memory import MemoryRepository
from daemon.store.spool import TurnWriter
from daemon.store.strategies import StrategyRepository
from daemon.store.tokens import TokenRepository
from daemon.store.usage import UsageRepository

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    database: Database
    strategies: StrategyRepository
    calls: CallRepository
    memory: MemoryRepository
    tokens: TokenRepository
    dnc: DncRepository
    usage: UsageRepository
    turn_writer: TurnWriter
    live: LiveBus
    campaign_store: CampaignRepository
    started_monotonic: float = field(default_factory=time.monotonic)
    pid: int = field(default_factory=os.getpid)
    instance_id: str = ""  # this daemon's identity (DATA_DIR/instance.id): whose calls are whose
    extras: dict[str, Any] = field(default_factory=dict)
    # filled by daemon.bootstrap.attach_features (kept loose here so the core starts alone)
    speech: Any = None
    manager: Any = None
    telephony: Any = None
    brain: Any = None
    scheduler: Any = None
    campaigns: Any = None  # daemon.campaigns.engine.CampaignEngine
    port: int = 0
    prewarming: set[str] = field(default_factory=set)  # strategies whose TTS cache is filling
    _background: set[asyncio.Task[Any]] = field(default_factory=set)
    _optional: set[asyncio.Task[Any]] = field(default_factory=set)

    @classmethod
    async def start(cls, settings: Settings) -> Services:
        data_dir = settings.data_dir
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        data_dir.chmod(0o700)  # transcripts, tokens and workbooks: the operator's eyes only
        database = await Database.open(settings.mongodb_url, settings.mongodb_db, data_dir)
        await database.ensure_indexes()
        calls = CallRepository(database.db)
        svc = cls(
            settings=settings,
            database=database,
            strategies=StrategyRepository(database.db),
            calls=calls,
            memory=MemoryRepository(database.db),
            tokens=TokenRepository(database.db),
            dnc=DncRepository(database.db),
            usage=UsageRepository(database.db),
            turn_writer=TurnWriter(calls, data_dir / "spool"),
            live=LiveBus(),
            campaign_store=CampaignRepository(database.db),
            # a stable id for this data dir's daemon (several may share one MongoDB)
            instance_id=read_or_create_secret(data_dir / "instance.id",
                                              lambda: "d_" + secrets.token_hex(6)),
        )
        pending = await svc.turn_writer.replay()
        if pending:
            log.warning("%d spooled turns still pending; will keep retrying", pending)
        return svc

    def spawn(self, coro: Any, name: str, *, essential: bool = True) -> asyncio.Task[Any]:
        """Run a tracked background task. Shutdown waits for essential ones (after-call writes)
        and cancels the rest (pre-synthesis, connection warming), which only save time later."""
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        if not essential:
            self._optional.add(task)
            task.add_done_callback(self._optional.discard)
        return task

    def backends(self) -> dict[str, str]:
        s = self.settings
        out = {
            "store": self.database.description,
            "brain": f"openai-compatible ({s.openai_model_critical})" if s.llm_enabled
            else "strategy playbook",
            "asr": s.asr_backend,
            "tts": "elevenlabs" if s.elevenlabs_enabled else "piper",
            "telephony": "twilio" if s.twilio_enabled else "simulated",
            "translation": s.translation_backend,
        }
        if self.campaigns is not None:
            out["campaigns"] = self.campaigns.describe()
        if self.speech is not None:
            out.update(self.speech.describe())
        if self.brain is not None:
            out["brain"] = self.brain.describe()
        return out

    async def on_strategy_ingested(self, strategy_id: str, strategy: Strategy) -> None:
        """Pre-synthesise the greeting now (every call starts with it), the rest in background."""
        if self.brain is None or self.speech is None:
            return
        first = self.brain.first_lines(strategy)
        greeting = self.spawn(self.speech.prewarm(first, strategy), name=f"greeting-{strategy_id}",
                              essential=False)
        try:  # shielded: on a slow machine the ingest answers, the greeting goes on
            await asyncio.wait_for(asyncio.shield(greeting), timeout=15)
        except TimeoutError:
            log.warning("greeting pre-synthesis for %s is slow; continuing in background", strategy_id)
        self.prewarming.add(strategy_id)

        async def rest() -> None:
            try:
                await self.speech.prewarm(self.brain.all_lines(strategy), strategy)
            finally:
                self.prewarming.discard(strategy_id)

        self.spawn(rest(), name=f"prewarm-{strategy_id}", essential=False)

    async def train_now(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.brain.train_loop()
        return result

    async def ingest_hook(self, adapter: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.brain.ingest_hook(adapter, body)
        return result

    async def close(self) -> None:
        self.live.close()
        if self.campaigns is not None:  # its workers write to the store: stop them first
            await self.campaigns.close()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        for task in list(self._optional):
            task.cancel()
        if self._background:
            _, pending = await asyncio.wait(self._background, timeout=10)
            for task in pending:
                task.cancel()
        await self.turn_writer.close()
        if self.telephony is not None:
            self.telephony.close()
        if self.speech is not None:
            await self.speech.close()
        await self.database.close()
