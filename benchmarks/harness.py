"""The benchmark's test rig: a real daemon process, and simulated leads run from this process.

Theory of operation
-------------------
`DaemonUnderTest` starts `scrappy daemon` as a child process on a free loopback port with its
own data directory, exactly as an operator would; it inherits this process's environment, so
`OPENAI_BASE_URL`, `ELEVENLABS_API_KEY`, `ASR_*`... select the providers being measured. Calls
are placed with `external_lead`, which makes the daemon issue the stream token but leaves the
far end to us: the leads run here, not inside the daemon, so what the daemon's CPU and memory
numbers show is the daemon's own work, and the lead's clocks are independent of its event loop.

A lead in this process is the same `SimulatedLead` the daemon uses for rehearsals, i.e. a real
WebSocket client speaking Twilio's Media Streams protocol in real time. Their voices come from
`LeadVoices`: one Piper model, and each scenario line synthesised once before any call starts,
so forty concurrent leads cost this process only their sockets and 20 ms pacing, not forty
Piper runs competing with the daemon for the same cores.

Resource sampling (CPU, RSS, loop lag) lives in `benchmarks.resources`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agentcore.tone import VoiceSettings
from daemon.simulate.lead import SimulatedLead
from daemon.simulate.report import LeadReport
from daemon.simulate.scenario import BargeInStep, SayStep, Scenario, load_scenario
from daemon.speech.asr import ASRBackend
from daemon.speech.piper_tts import PiperTTS
from daemon.speech.tts import TTSBackend

REPO = Path(__file__).resolve().parents[1]
DEFAULT_STRATEGY = REPO / "strategies" / "enterprise_saas.json"
FINAL_STATUSES = frozenset({"completed", "failed", "busy", "no-answer", "canceled"})


def free_port() -> int:
    """An unused loopback TCP port (the OS picks it; racy only against other port-grabbers)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PlacedCall:
    """A call the daemon created for an external lead: its id and one-time stream token."""

    id: str
    stream_token: str
    phone: str


class DaemonUnderTest:
    """One `scrappy daemon` child process, and an HTTP client holding its admin token."""

    def __init__(self, data_dir: Path | None = None, env: dict[str, str] | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="scrappy-bench-")
            data_dir = Path(self._tmp.name) / "data"
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/twilio/media"
        self.log_path = data_dir.parent / f"daemon-{self.port}.log"
        self.env = {**os.environ, "SCRAPPY_DATA_DIR": str(data_dir), "SCRAPPY_URL": self.url,
                    **(env or {})}
        self.env.pop("SCRAPPY_TOKEN", None)
        self._proc: asyncio.subprocess.Process | None = None
        self._http: httpx.AsyncClient | None = None
        self._phones = 0

    @property
    def pid(self) -> int:
        assert self._proc is not None, "daemon not started"
        return self._proc.pid

    async def start(self, timeout_s: float = 120.0) -> None:
        """Start the daemon and wait until `/healthz` answers (speech models loaded)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the fd
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "scrappy_cli.main", "daemon", "--port", str(self.port),
                "--data-dir", str(self.data_dir),
                env=self.env, stdout=log, stderr=log, cwd=str(self.data_dir.parent))
        probe = httpx.AsyncClient(base_url=self.url, timeout=2.0)
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                if self._proc.returncode is not None:
                    raise RuntimeError(f"daemon exited with {self._proc.returncode}:\n{self.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await probe.get("/healthz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"daemon did not start in {timeout_s:.0f} s:\n{self.log_tail()}")
                await asyncio.sleep(0.2)
        finally:
            await probe.aclose()
        token = (self.data_dir / "admin.token").read_text("utf-8").strip()
        self._http = httpx.AsyncClient(base_url=self.url, timeout=30.0,
                                       headers={"Authorization": f"Bearer {token}"})

    async def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM (graceful), SIGKILL if it hangs; returns the exit code."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        proc = self._proc
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout_s)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        return proc.returncode if proc is not None else None

    async def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown code runs."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()

    def cleanup(self) -> None:
        """Delete the temporary data directory (and log), if this object made one."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def log_problems(self, limit: int = 10) -> tuple[int, list[str]]:
        """How many WARNING/ERROR lines the daemon logged, and the first `limit` of them."""
        if not self.log_path.exists():
            return 0, []
        text = self.log_path.read_text("utf-8", errors="replace")
        lines = [ln for ln in text.splitlines() if " WARNING " in ln or " ERROR " in ln]
        return len(lines), [ln[:200] for ln in lines[:limit]]

    def log_tail(self, chars: int = 4000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text("utf-8", errors="replace")[-chars:]

    # --- API ---------------------------------------------------------------------------------
    @property
    def http(self) -> httpx.AsyncClient:
        assert self._http is not None, "daemon not started"
        return self._http

    async def health(self) -> dict[str, Any]:
        response = await self.http.get("/healthz")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    async def ingest(self, strategy: Path = DEFAULT_STRATEGY, prewarm_timeout_s: float = 180.0) -> str:
        """Store and activate a strategy, then wait until its lines are pre-synthesised."""
        body = await asyncio.to_thread(strategy.read_bytes)
        response = await self.http.post("/api/v1/strategies", content=body)
        if response.status_code != 201:
            raise RuntimeError(f"strategy ingest failed ({response.status_code}): {response.text}")
        deadline = time.monotonic() + prewarm_timeout_s
        while time.monotonic() < deadline:  # the daemon has no "prewarm done" event to await
            if not (await self.health())["prewarming"]:
                break
            await asyncio.sleep(0.5)
        return str(response.json()["id"])

    def next_phone(self) -> str:
        """A fresh fictional 555 number per call, so no call sees another's history."""
        self._phones += 1
        return f"+1415555{2000 + self._phones % 8000:04d}"

    async def place_call(self, scenario: str) -> PlacedCall:
        phone = self.next_phone()
        response = await self.http.post("/api/v1/calls", json={
            "phone": phone, "simulate": True, "scenario": scenario, "external_lead": True,
            "name": "Bench Lead"})
        if response.status_code != 201:
            raise RuntimeError(f"call refused ({response.status_code}): {response.text}")
        data = response.json()
        return PlacedCall(str(data["id"]), str(data["stream_token"]), phone)

    async def finished_call(self, call_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """The stored call once it is final and its turns have stopped changing.

        Turns are written as they happen, but a turn the store was slow to take is spooled and
        replayed a little later; two identical reads 0.5 s apart mean nothing is in flight.
        """
        deadline = time.monotonic() + timeout_s
        previous: list[Any] | None = None
        call: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = await self.http.get(f"/api/v1/calls/{call_id}")
            response.raise_for_status()
            call = response.json()
            if call.get("status") in FINAL_STATUSES:
                if call.get("turns") == previous:
                    return call
                previous = call.get("turns")
            await asyncio.sleep(0.5)
        call["_bench_timeout"] = True
        return call


class LeadVoices:
    """Lead TTS for every scenario: one shared Piper model, each line synthesised once."""

    def __init__(self, piper: PiperTTS | None = None) -> None:
        self._piper = piper
        self._voices: dict[float, MemoTTS] = {}

    def for_scenario(self, scenario: Scenario) -> MemoTTS:
        scale = round(scenario.voice_length_scale, 3)
        if scale not in self._voices:
            if self._piper is None:
                self._piper = PiperTTS()
            self._voices[scale] = MemoTTS(self._piper.with_length_scale(scale))
        return self._voices[scale]

    async def prepare(self, scenarios: Iterable[Scenario]) -> None:
        """Synthesise every line of `scenarios` now, before any measured call starts."""
        for scenario in scenarios:
            voice = self.for_scenario(scenario)
            for text in lead_texts(scenario):
                await voice.synthesize(text, VoiceSettings())

    async def close(self) -> None:
        if self._piper is not None:
            await self._piper.close()


def lead_texts(scenario: Scenario) -> list[str]:
    """The exact texts `SimulatedLead` will ask its TTS for (a paused line is two parts)."""
    texts: list[str] = []
    for step in scenario.steps:
        if isinstance(step, SayStep):
            texts.extend(part for part in step.split() if part)
        elif isinstance(step, BargeInStep):
            texts.append(step.barge_in)
    return texts


class MemoTTS(TTSBackend):
    """A TTS that remembers every utterance: concurrent leads share one synthesis per line."""

    name = "memo"

    def __init__(self, inner: TTSBackend) -> None:
        self._inner = inner
        self._audio: dict[tuple[str, VoiceSettings, str | None, str], asyncio.Task[bytes]] = {}

    async def synthesize(self, text: str, voice: VoiceSettings, voice_id: str | None = None,
                         locale: str = "en-US") -> bytes:
        key = (text, voice, voice_id, locale)
        task = self._audio.get(key)
        if task is None or (task.done() and (task.cancelled() or task.exception() is not None)):
            task = asyncio.ensure_future(self._inner.synthesize(text, voice, voice_id, locale))
            self._audio[key] = task
        return await asyncio.shield(task)

    async def stream(self, text: str, voice: VoiceSettings, voice_id: str | None = None,
                     locale: str = "en-US") -> AsyncGenerator[bytes, None]:
        yield await self.synthesize(text, voice, voice_id, locale)


@dataclass
class CallRun:
    """One benchmarked call: what the lead measured and what the daemon stored."""

    placed: PlacedCall
    report: LeadReport
    call: dict[str, Any]


async def run_lead(daemon: DaemonUnderTest, voices: LeadVoices, scenario: Scenario,
                   placed: PlacedCall, asr: ASRBackend | None = None,
                   delay_s: float = 0.0) -> LeadReport:
    """Be the lead of a placed call: wait `delay_s`, connect, play `scenario`, report."""
    if delay_s > 0:
        await asyncio.sleep(delay_s)
    lead = SimulatedLead(
        daemon.ws_url, {"call_id": placed.id, "stream_token": placed.stream_token}, scenario,
        voices.for_scenario(scenario), asr if scenario.listen else None)
    return await lead.run()


async def run_call(daemon: DaemonUnderTest, voices: LeadVoices, scenario: Scenario,
                   asr: ASRBackend | None = None) -> CallRun:
    """Place one call, play `scenario` as its lead, then fetch the stored call."""
    placed = await daemon.place_call(scenario.name)
    report = await run_lead(daemon, voices, scenario, placed, asr)
    return CallRun(placed, report, await daemon.finished_call(placed.id))


def scenario_named(name: str) -> Scenario:
    return load_scenario(name)
