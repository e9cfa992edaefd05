"""Faults, measured from outside (`python -m benchmarks --faults`, `make bench-faults`).

Three runs against real daemons on loopback, each with simulated leads speaking Twilio's Media
Streams protocol over the daemon's own WebSocket:

1. **Crash** (`crash`): calls in progress, then `kill -9` of the daemon, then a restart on the
   same data dir. Counted: calls left unfinished after the restart (zombies), turns the API
   showed before the kill against turns kept, how long the restart took.
2. **Store outage** (`outage`): the daemon on `MONGODB_URL` pointing at a SecantusDB server this
   process runs; mid-way through concurrent calls the server stops for `outage_s` and comes
   back on the same port and files. Counted: what the leads said and heard against the turns
   stored afterwards (must be equal), lead lines said during the outage and how many were
   answered, and how long after the store came back every turn was stored.
3. **Hostile input** (`hostile`): while a real call runs, hundreds of hostile media WebSocket
   connections (malformed JSON, binary and 2 MB frames, bad base64, events out of order, forged
   stream tokens, idle sockets) and API probes (operator injection, path traversal, hostile
   JSON). Counted: `/healthz` latency meanwhile, the real call's turns, the status of every
   probe (no 5xx), and whether any answer carried a server path or a token.

Each run uses its own temporary data dir; nothing here touches a real store or provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import websockets

from benchmarks.harness import DEFAULT_STRATEGY, FINAL_STATUSES, DaemonUnderTest, free_port
from benchmarks.meta import command_line, git_state, machine, now_iso
from benchmarks.report import (
    Table,
    ms,
    one_table_markdown,
    print_rich_tables,
    update_marked_file,
    write_pair,
)

START_MARK, END_MARK = "<!-- faults:start -->", "<!-- faults:end -->"
RUNS = ("crash", "outage", "hostile")
SCENARIO = "pricing_then_demo"  # ~45 s, five lead lines: long enough to fault in the middle
Progress = Callable[[str], None]


# --- shared helpers -----------------------------------------------------------------------------


async def _place(daemon: DaemonUnderTest, scenario: str = SCENARIO) -> str:
    """A simulated call whose lead runs inside the daemon (as `scrappy call --simulate`)."""
    response = await daemon.http.post("/api/v1/calls", json={
        "phone": daemon.next_phone(), "simulate": True, "scenario": scenario, "name": "Fault Lead"})
    if response.status_code != 201:
        raise RuntimeError(f"call refused ({response.status_code}): {response.text}")
    return str(response.json()["id"])


async def _turns(daemon: DaemonUnderTest, call_id: str) -> int:
    response = await daemon.http.get(f"/api/v1/calls/{call_id}")
    response.raise_for_status()
    return len(response.json().get("turns") or [])


async def _until(check: Callable[[], Awaitable[bool]], timeout_s: float, step_s: float = 0.3) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if await check():
                return True
        await asyncio.sleep(step_s)
    return False


def _heard(call: dict[str, Any]) -> tuple[int, int]:
    """(turns the lead's side witnessed: lines said + agent turns heard, turns stored)."""
    report = call.get("simulation") or {}
    return len(report.get("lines") or []) + len(report.get("agent_turns") or []), len(call.get("turns") or [])


def _wall(text: str | None) -> float | None:
    return datetime.fromisoformat(text).timestamp() if text else None


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- 1. crash -----------------------------------------------------------------------------------


async def run_crash(progress: Progress, calls: int = 3) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="scrappy-faults-") as tmp:
        data = Path(tmp) / "data"
        first = DaemonUnderTest(data)
        await first.start()
        try:
            await first.ingest(DEFAULT_STRATEGY)
            ids = [await _place(first) for _ in range(calls)]

            async def two_turns_each() -> bool:
                return all([await _turns(first, i) >= 2 for i in ids])

            reached = await _until(two_turns_each, 90)
            seen = {i: await _turns(first, i) for i in ids}
        finally:
            await first.kill()
        progress(f"faults (crash): killed the daemon with {calls} calls in progress")
        second = DaemonUnderTest(data)
        started = time.monotonic()
        await second.start()
        restart_s = time.monotonic() - started
        try:
            stored = {i: (await second.http.get(f"/api/v1/calls/{i}")).json() for i in ids}
        finally:
            exit_code = await second.stop()
        zombies = [i for i, c in stored.items() if c.get("status") not in FINAL_STATUSES]
        return {
            "calls": calls, "all_mid_call_at_kill": reached,
            "restart_s": round(restart_s, 1), "zombies": len(zombies),
            "turns_seen_before_kill": sum(seen.values()),
            "turns_kept": sum(min(seen[i], len(c.get("turns") or [])) for i, c in stored.items()),
            "closed_as": sorted({f"{c.get('status')}/{c.get('outcome')}" for c in stored.values()}),
            "exit_code_after": exit_code,
        }


# --- 2. store outage ----------------------------------------------------------------------------


class _Store:
    """A SecantusDB server the daemon reaches through MONGODB_URL; it can blink."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self) -> None:
        from secantus import SecantusDBServer

        server = SecantusDBServer(storage_path=str(self.folder), port=self.port)
        server.start()
        self._server = server

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


async def run_outage(progress: Progress, calls: int = 5, outage_s: float = 30.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="scrappy-faults-") as tmp:
        store = _Store(Path(tmp) / "external-db")
        await asyncio.to_thread(store.start)
        daemon = DaemonUnderTest(Path(tmp) / "data", env={"MONGODB_URL": store.url})
        try:
            await daemon.start()
            await daemon.ingest(DEFAULT_STRATEGY)
            ids = []
            for _ in range(calls):
                ids.append(await _place(daemon))
                await asyncio.sleep(0.5)

            async def all_talking() -> bool:
                return all([await _turns(daemon, i) >= 2 for i in ids])

            talking = await _until(all_talking, 60)
            down_at = time.time()
            await asyncio.to_thread(store.stop)
            progress(f"faults (outage): store down for {outage_s:.0f} s during {calls} calls")
            await asyncio.sleep(outage_s)
            await asyncio.to_thread(store.start)
            up_at, up_mono = time.time(), time.monotonic()

            async def all_stored() -> bool:
                for call_id in ids:
                    call = (await daemon.http.get(f"/api/v1/calls/{call_id}")).json()
                    heard, stored = _heard(call)
                    if call.get("status") not in FINAL_STATUSES or not call.get("simulation") \
                            or stored < heard:
                        return False
                return True

            settled = await _until(all_stored, 180, step_s=0.5)
            recovered_s = time.monotonic() - up_mono
            finals = [await daemon.finished_call(i, timeout_s=30) for i in ids]
        finally:
            exit_code = await daemon.stop()
            await asyncio.to_thread(store.stop)
        heard = sum(_heard(c)[0] for c in finals)
        stored = sum(_heard(c)[1] for c in finals)
        during = [ln for c in finals for ln in (c.get("simulation") or {}).get("lines") or []
                  if (t := _wall(ln.get("ended_at_wall"))) is not None and down_at <= t <= up_at]
        answered = [ln["voice_to_voice_ms"] for ln in during if ln.get("voice_to_voice_ms") is not None]
        return {
            "calls": calls, "all_mid_call_at_outage": talking, "outage_s": outage_s,
            "turns_heard": heard, "turns_stored": stored,
            "lines_during_outage": len(during), "answered_during_outage": len(answered),
            "answer_ms_p50_during_outage": _pct(answered, 0.5),
            "all_stored_after_s": round(recovered_s, 1) if settled else None,
            "completed": sum(1 for c in finals if c.get("status") == "completed"),
            "exit_code": exit_code,
        }


# --- 3. hostile input ---------------------------------------------------------------------------


def _ws_attacks(call_id: str) -> list[tuple[str, list[str | bytes], float]]:
    """(kind, frames to send, seconds to stay) for one hostile media connection."""
    sid = "MZ" + "0" * 32
    start = json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": sid, "start": {
        "streamSid": sid, "callSid": "CA" + "0" * 32, "accountSid": "AC" + "0" * 32, "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"call_id": call_id, "stream_token": "forged-token"}}})
    connected = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
    media = json.dumps({"event": "media", "sequenceNumber": "2", "streamSid": sid,
                        "media": {"track": "inbound", "chunk": "1", "timestamp": "0",
                                  "payload": "!!not base64!!"}})
    return [
        ("malformed JSON", ["{not json", '{"event": '], 0.0),
        ("binary frame", [b"\x00\xff" * 64], 0.0),
        ("2 MB frame", ["x" * 2_000_000], 0.0),
        ("bad base64 before start", [connected, media], 0.0),
        ("stop before start", [json.dumps({"event": "stop", "streamSid": sid})], 0.0),
        ("forged stream token", [connected, start], 0.0),
        ("idle socket", [], 15.0),  # the daemon's start timeout is 10 s
    ]


async def _attack(url: str, frames: list[str | bytes], stay_s: float) -> str:
    try:
        async with websockets.connect(url, max_size=None, open_timeout=10) as ws:
            for frame in frames:
                await ws.send(frame)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ws.wait_closed(), timeout=stay_s or 5.0)
            return "closed by the daemon" if ws.close_code is not None else "left open"
    except (websockets.WebSocketException, OSError) as exc:
        return f"refused ({type(exc).__name__})"


def _api_probes(call_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    nested = "[" * 10_000 + "]" * 10_000
    return [
        ("GET", "/api/v1/calls/%7B%22%24ne%22%3Anull%7D", {}),
        ("GET", "/api/v1/exports/..%2F..%2Fadmin.token", {}),
        ("GET", "/api/v1/exports/%2Fetc%2Fpasswd", {}),
        ("GET", "/api/v1/strategies/..%2F..%2Fdb.secret", {}),
        ("POST", "/api/v1/calls", {"json": {"phone": "+14155550123", "simulate": True,
                                            "strategy_id": {"$ne": None}}}),
        ("POST", "/api/v1/calls", {"json": {"phone": "+14155550123", "simulate": True,
                                            "scenario": "/etc/passwd"}}),
        ("POST", "/api/v1/calls", {"json": {"phone": {"$where": "1"}}}),
        ("POST", "/api/v1/strategies", {"content": nested}),
        ("POST", "/api/v1/strategies", {"content": '{"title": "a", "title": "b", "persona": {"name": "x"}}'}),
        ("POST", "/api/v1/strategies", {"content": "x" * (2 * 1024 * 1024)}),
        ("POST", "/api/v1/feedback", {"content": nested}),
        ("POST", "/api/v1/dnc", {"json": {"phone": {"$ne": None}}}),
        ("GET", f"/api/v1/calls/{call_id}/..%2F..%2F..%2Fetc%2Fpasswd", {}),
        ("GET", "/api/v1/calls?limit=%7B%7D", {}),
    ]


async def run_hostile(progress: Progress, connections: int = 300) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="scrappy-faults-") as tmp:
        daemon = DaemonUnderTest(Path(tmp) / "data")
        try:
            await daemon.start()
            await daemon.ingest(DEFAULT_STRATEGY)
            call_id = await _place(daemon)
            attacks = _ws_attacks(call_id)
            outcomes: Counter[str] = Counter()
            latencies: list[float] = []
            done = asyncio.Event()

            async def probe_health() -> None:
                async with httpx.AsyncClient(base_url=daemon.url, timeout=10) as plain:
                    while not done.is_set():
                        started = time.perf_counter()
                        await plain.get("/healthz")
                        latencies.append(1000 * (time.perf_counter() - started))
                        await asyncio.sleep(0.05)

            async def fuzz() -> None:
                gate = asyncio.Semaphore(25)

                async def one(n: int) -> None:
                    kind, frames, stay = attacks[n % len(attacks)]
                    async with gate:
                        outcomes[f"{kind}: {await _attack(daemon.ws_url, frames, stay)}"] += 1

                await asyncio.gather(*(one(n) for n in range(connections)))

            prober = asyncio.create_task(probe_health())
            await asyncio.sleep(3)  # the call is under way
            await fuzz()
            done.set()
            await prober
            progress(f"faults (hostile): {connections} hostile media connections sent")
            statuses: Counter[str] = Counter()
            leaks: list[str] = []
            secrets_ = [str(daemon.data_dir), (daemon.data_dir / "admin.token").read_text().strip(),
                        (daemon.data_dir / "db.secret").read_text().strip()]
            for method, path, kwargs in _api_probes(call_id):
                response = await daemon.http.request(method, path, **kwargs)
                statuses[f"{response.status_code // 100}xx"] += 1
                if response.status_code >= 500:
                    leaks.append(f"{method} {path[:50]}: {response.status_code}")
                if any(s in response.text for s in secrets_) or "Traceback" in response.text:
                    leaks.append(f"{method} {path[:50]}: leaked a path, a token or a stack")
            call = await daemon.finished_call(call_id, timeout_s=120)

            async def reported() -> bool:  # the lead's own report lands just after the call
                nonlocal call
                call = (await daemon.http.get(f"/api/v1/calls/{call_id}")).json()
                return bool(call.get("simulation"))

            await _until(reported, 30)
        finally:
            exit_code = await daemon.stop()
        heard, stored = _heard(call)
        return {
            "connections": connections, "outcomes": dict(sorted(outcomes.items())),
            "healthz_ms": {"n": len(latencies), "p50": statistics.median(latencies) if latencies else None,
                           "p99": _pct(latencies, 0.99), "max": max(latencies, default=None)},
            "call": {"status": call.get("status"), "outcome": call.get("outcome"),
                     "turns_heard": heard, "turns_stored": stored},
            "api_probes": {"n": sum(statuses.values()), **dict(statuses)}, "problems": leaks,
            "exit_code": exit_code,
        }


# --- the run and its report ---------------------------------------------------------------------


async def run_faults(progress: Progress, runs: tuple[str, ...] = RUNS,
                     outage_s: float = 30.0) -> dict[str, Any]:
    started = time.monotonic()
    result: dict[str, Any] = {"generated_at": now_iso(), "command": command_line(),
                              "machine": machine(), "git": git_state()}
    if "crash" in runs:
        result["crash"] = await run_crash(progress)
    if "outage" in runs:
        result["outage"] = await run_outage(progress, outage_s=outage_s)
    if "hostile" in runs:
        result["hostile"] = await run_hostile(progress)
    result["duration_s"] = round(time.monotonic() - started, 1)
    return result


def faults_table(result: dict[str, Any]) -> Table:
    table = Table("Faults, measured from outside (simulated leads over the real media WebSocket)",
                  ["fault", "measure", "result"])
    rows = table.rows
    if crash := result.get("crash"):
        rows += [
            ["`kill -9` mid-call, restart", "calls left unfinished after the restart (zombies)",
             f"{crash['zombies']} of {crash['calls']}"],
            ["", "turns shown before the kill / kept",
             f"{crash['turns_seen_before_kill']} / {crash['turns_kept']}"],
            ["", "closed as (status/outcome)", ", ".join(crash["closed_as"])],
            ["", "restart until /healthz answers", f"{crash['restart_s']} s"],
        ]
        if not crash.get("all_mid_call_at_kill", True):
            table.notes.append("Crash: not every call had reached its second turn at the kill.")
    if outage := result.get("outage"):
        after = outage["all_stored_after_s"]
        rows += [
            [f"store down {outage['outage_s']:.0f} s in {outage['calls']} calls",
             "turns heard by the leads / stored afterwards",
             f"{outage['turns_heard']} / {outage['turns_stored']}"],
            ["", "lead lines during the outage / answered",
             f"{outage['lines_during_outage']} / {outage['answered_during_outage']}"],
            ["", "answer voice-to-voice during the outage, p50",
             f"{ms(outage['answer_ms_p50_during_outage'])} ms"],
            ["", "calls over and every turn stored, after the store came back",
             "never" if after is None else f"{after} s"],
            ["", "calls completed", f"{outage['completed']} of {outage['calls']}"],
        ]
        if not outage.get("all_mid_call_at_outage", True):
            table.notes.append("Outage: not every call had reached its second turn when the store stopped.")
    if hostile := result.get("hostile"):
        health, call, api = hostile["healthz_ms"], hostile["call"], hostile["api_probes"]
        refused = sum(n for kind, n in hostile["outcomes"].items() if "left open" not in kind)
        rows += [
            [f"{hostile['connections']} hostile media sockets during a call",
             "closed or refused by the daemon", f"{refused} of {hostile['connections']}"],
            ["", "`/healthz` meanwhile, p50 / p99 / max",
             f"{ms(health['p50'])} / {ms(health['p99'])} / {ms(health['max'])} ms"],
            ["", "the real call: status, turns heard / stored",
             f"{call['status']}, {call['turns_heard']} / {call['turns_stored']}"],
            [f"{api['n']} hostile API requests", "answered 4xx / 5xx",
             f"{api.get('4xx', 0)} / {api.get('5xx', 0)}"],
            ["", "answers carrying a path, token or stack trace", str(len(hostile["problems"]))],
        ]
        table.notes.append("Hostile sockets, by kind and what happened: " + "; ".join(
            f"{kind} ({n})" for kind, n in hostile["outcomes"].items()) + ".")
    return table


def print_tables(result: dict[str, Any]) -> None:
    print_rich_tables([faults_table(result)])


def to_markdown(result: dict[str, Any]) -> str:
    return one_table_markdown(result, faults_table(result), (
        "Generated by `python -m benchmarks --faults` (`make bench-faults`); every number in "
        "`benchmarks/results/faults.json`."))


def write(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    return write_pair(result, to_markdown(result), out_dir, "faults")


def update_readme(markdown: str, readme: Path) -> bool:
    return update_marked_file(readme, markdown, START_MARK, END_MARK)
