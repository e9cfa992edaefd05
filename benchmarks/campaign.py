"""Campaign throughput (`python -m benchmarks --campaign`, `make bench-campaign`).

The same rehearsal campaign (simulated leads over the real media WebSocket, a short scenario)
run by one daemon and by two daemons that share one Temporal server and one store, as a
scaled-out deployment would. Each daemon takes at most `cap` calls at once
(CALLS_MAX_CONCURRENT); the campaign's concurrency is the sum. Measured from the calls the
store recorded:

- wall time from create to `completed`, dials per minute, leads finished per hour per daemon;
- time from a freed call slot to that daemon's next dial (the engine's scheduling overhead:
  a call's end, its dial activity returning, the workflow starting the next lead's dial);
- the most calls a daemon ran at once (must not exceed its cap).

Both daemons run on this one machine, so two daemons share its cores: the two-daemon row shows
the mechanism (work spread, caps held, no lead twice), not more CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import DEFAULT_STRATEGY, DaemonUnderTest, free_port
from benchmarks.meta import command_line, git_state, machine, now_iso
from benchmarks.report import (
    Table,
    ms,
    one_table_markdown,
    print_rich_tables,
    update_marked_file,
    write_pair,
)

START_MARK, END_MARK = "<!-- campaign:start -->", "<!-- campaign:end -->"
SCENARIO = "dtmf_optout"  # ~14 s: the lead presses 9, the agent confirms and hangs up
Progress = Callable[[str], None]


async def _wait_port(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@contextlib.asynccontextmanager
async def shared_backends(folder: Path) -> AsyncIterator[dict[str, str]]:
    """A SecantusDB server and a Temporal dev server of their own; yields the daemons' env."""
    from daemon.campaigns.engine import temporal_binary

    db_port, temporal_port = free_port(), free_port()
    log = (folder / "backends.log").open("ab")
    procs = [
        await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "secantusd-py"), "--host", "127.0.0.1", "--port",
            str(db_port), "--storage-path", str(folder / "db"), "--log-level", "WARNING",
            stdout=log, stderr=log),
        await asyncio.create_subprocess_exec(
            temporal_binary(), "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port",
            str(temporal_port), "--http-port", str(free_port()), "--metrics-port",
            str(free_port()), "--log-level", "warn", stdout=log, stderr=log),
    ]
    try:
        await _wait_port(db_port)
        await _wait_port(temporal_port)
        yield {"MONGODB_URL": f"mongodb://127.0.0.1:{db_port}",
               "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}"}
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 15)
        log.close()


def _t(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _most_at_once(calls: list[dict[str, Any]]) -> int:
    edges = sorted([(_t(c["started_at"]), 1) for c in calls] + [(_t(c["ended_at"]), -1) for c in calls])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def _slot_gaps(calls: list[dict[str, Any]]) -> list[float]:
    """One daemon's calls: seconds from each call's end to the next call it started (calls
    after which it started none, the last ones, have no gap)."""
    starts = sorted(_t(c["started_at"]) for c in calls)
    gaps = []
    for call in calls:
        end = _t(call["ended_at"])
        later = [s for s in starts if s >= end]
        if later:
            gaps.append(later[0] - end)
    return gaps


async def run_one(daemons: int, leads: int, cap: int, progress: Progress) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="scrappy-campaign-") as tmp:
        folder = Path(tmp)
        async with shared_backends(folder) as env:
            env = {**env, "CALLS_MAX_CONCURRENT": str(cap)}
            nodes = [DaemonUnderTest(folder / f"d{i}" / "data", env=env) for i in range(daemons)]
            await asyncio.gather(*(n.start() for n in nodes))
            try:
                await nodes[0].ingest(DEFAULT_STRATEGY)
                phones = [f"+1415555{5000 + i:04d}" for i in range(leads)]
                started = time.monotonic()
                response = await nodes[0].http.post("/api/v1/campaigns", json={
                    "leads": [{"phone": p} for p in phones], "simulate": True,
                    "scenario": SCENARIO, "concurrency": cap * daemons, "name": "bench"})
                response.raise_for_status()
                campaign_id = response.json()["id"]
                last = -1
                while True:
                    campaign = (await nodes[0].http.get(
                        f"/api/v1/campaigns/{campaign_id}", params={"leads": 0})).json()
                    if campaign["progress"]["finished"] != last:
                        last = campaign["progress"]["finished"]
                        progress(f"campaign ({daemons} daemon(s)): {last}/{leads} leads finished")
                    if campaign["status"] == "completed":
                        break
                    if time.monotonic() - started > 60 * 30:
                        raise RuntimeError("campaign did not finish in 30 minutes")
                    await asyncio.sleep(1)
                wall = time.monotonic() - started
                calls = [c for c in (await nodes[0].http.get(
                    "/api/v1/calls", params={"limit": 500})).json()["calls"]
                    if c["campaign_id"] == campaign_id]
            finally:
                await asyncio.gather(*(n.stop() for n in nodes))
    by_daemon: dict[str, list[dict[str, Any]]] = {}
    for call in calls:
        by_daemon.setdefault(call["daemon"], []).append(call)
    gaps = [g for group in by_daemon.values() for g in _slot_gaps(group)]
    durations = [_t(c["ended_at"]) - _t(c["started_at"]) for c in calls]
    return {
        "daemons": daemons, "cap_per_daemon": cap, "leads": leads, "dials": len(calls),
        "wall_s": round(wall, 1), "dials_per_min": round(len(calls) / wall * 60, 1),
        "leads_per_hour_per_daemon": round(leads / (wall / 3600) / daemons),
        "calls_per_daemon": sorted(len(g) for g in by_daemon.values()),
        "most_at_once_per_daemon": max(_most_at_once(g) for g in by_daemon.values()),
        "slot_to_next_dial_ms": {
            "p50": round(1000 * statistics.median(gaps)) if gaps else None,
            "p95": round(1000 * sorted(gaps)[int(0.95 * (len(gaps) - 1))]) if gaps else None},
        "call_s_p50": round(statistics.median(durations), 1) if durations else None,
        "not_completed": sum(1 for c in calls if c["status"] != "completed"),
    }


async def run_campaign(progress: Progress, leads: int = 40, cap: int = 3) -> dict[str, Any]:
    started = time.monotonic()
    result: dict[str, Any] = {"generated_at": now_iso(), "command": command_line(),
                              "machine": machine(), "git": git_state(), "scenario": SCENARIO}
    result["runs"] = [await run_one(n, leads, cap, progress) for n in (1, 2)]
    result["duration_s"] = round(time.monotonic() - started, 1)
    return result


def campaign_table(result: dict[str, Any]) -> Table:
    table = Table(f"Campaign throughput: {result['runs'][0]['leads']} simulated leads "
                  f"(`{result['scenario']}`, one shared Temporal server and store)",
                  ["daemons", "cap each", "wall", "dials/min", "leads/h per daemon",
                   "slot to next dial p50 / p95", "most calls at once (a daemon)",
                   "calls per daemon", "calls not completed"])
    for run in result["runs"]:
        gap = run["slot_to_next_dial_ms"]
        table.rows.append([
            str(run["daemons"]), str(run["cap_per_daemon"]), f"{run['wall_s']} s",
            str(run["dials_per_min"]), str(run["leads_per_hour_per_daemon"]),
            f"{ms(gap['p50'])} / {ms(gap['p95'])} ms", str(run["most_at_once_per_daemon"]),
            " + ".join(str(n) for n in run["calls_per_daemon"]), str(run["not_completed"])])
    table.notes.append("Both daemons share this machine's cores: two daemons show the work "
                       "spread and the caps held, not twice the CPU. A call lasts ~"
                       f"{result['runs'][0]['call_s_p50']} s, so one daemon with cap 3 tops out "
                       "near 3 x 3600 / that many leads per hour.")
    return table


def print_tables(result: dict[str, Any]) -> None:
    print_rich_tables([campaign_table(result)])


def to_markdown(result: dict[str, Any]) -> str:
    return one_table_markdown(result, campaign_table(result), (
        "Generated by `python -m benchmarks --campaign` (`make bench-campaign`); every number in "
        "`benchmarks/results/campaign.json`."))


def write(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    return write_pair(result, to_markdown(result), out_dir, "campaign")


def update_readme(markdown: str, readme: Path) -> bool:
    return update_marked_file(readme, markdown, START_MARK, END_MARK)
