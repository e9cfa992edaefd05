"""CPU, memory and timing health of a benchmark run, sampled while calls are in flight.

`ResourceSampler` polls the daemon process (and any children) with psutil, plus this process
(the leads) and the machine as a whole, so a reader can tell the daemon's cost from the leads'
and see when something else on the machine was competing. It also probes this process's event
loop: every lead timestamp is taken on that loop, so its lateness is their error bar.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from benchmarks.stats import summarise

MB = 1024 * 1024


@dataclass
class ResourceSamples:
    """CPU (% of one core, as `top` shows it) and RSS of the daemon and of the bench process."""

    daemon_cpu: list[float] = field(default_factory=list)
    daemon_rss_mb: list[float] = field(default_factory=list)
    bench_cpu: list[float] = field(default_factory=list)
    other_cpu: list[float] = field(default_factory=list)  # the rest of the machine: not idle?
    bench_lag_ms: list[float] = field(default_factory=list)  # this event loop's lateness
    seconds: float = 0.0


class ResourceSampler:
    """Samples a process tree every `interval_s` while used as an async context manager."""

    def __init__(self, pid: int, interval_s: float = 0.5) -> None:
        self._daemon = psutil.Process(pid)
        self._bench = psutil.Process()
        self._interval_s = interval_s
        self.samples = ResourceSamples()
        self._tasks: list[asyncio.Task[None]] = []
        self._started = 0.0

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self._daemon, *self._daemon.children(recursive=True)]
        except psutil.Error:
            return [self._daemon]

    def rss_mb(self) -> float:
        """Resident memory of the daemon and its children now, in MiB."""
        total = 0
        for proc in self._tree():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total / MB

    def _cpu(self, procs: list[psutil.Process]) -> float:
        total = 0.0
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                total += proc.cpu_percent(interval=None)
        return total

    async def _run(self) -> None:
        cores = psutil.cpu_count() or 1
        self._cpu(self._tree())  # the first reading only primes psutil's counters
        self._bench.cpu_percent(interval=None)
        psutil.cpu_percent(interval=None)
        while True:
            await asyncio.sleep(self._interval_s)
            daemon = self._cpu(self._tree())
            bench = self._bench.cpu_percent(interval=None)
            machine = psutil.cpu_percent(interval=None) * cores  # % of one core, like the others
            self.samples.daemon_cpu.append(daemon)
            self.samples.daemon_rss_mb.append(self.rss_mb())
            self.samples.bench_cpu.append(bench)
            self.samples.other_cpu.append(max(0.0, machine - daemon - bench))

    def cpu_summary(self) -> dict[str, Any]:
        """Mean / p95 / max CPU of the daemon, and means for this process and everything else."""
        s = self.samples
        daemon, bench, other = summarise(s.daemon_cpu), summarise(s.bench_cpu), summarise(s.other_cpu)
        return {
            "daemon_cpu_pct": {"mean": _r(daemon.mean), "p95": _r(daemon.p95), "max": _r(daemon.max)},
            "bench_cpu_pct": {"mean": _r(bench.mean), "max": _r(bench.max)},
            "other_cpu_pct": {"mean": _r(other.mean), "max": _r(other.max)},
            "bench_loop_lag_ms": summarise(s.bench_lag_ms).to_dict(),
        }

    async def _probe_lag(self, period_s: float = 0.02) -> None:
        """How late this process's event loop wakes up: the error bar of every lead timestamp."""
        while True:
            due = time.monotonic() + period_s
            await asyncio.sleep(period_s)
            self.samples.bench_lag_ms.append(1000.0 * max(0.0, time.monotonic() - due))

    async def __aenter__(self) -> ResourceSampler:
        self._started = time.monotonic()
        self._tasks = [asyncio.create_task(self._run(), name="bench-sampler"),
                       asyncio.create_task(self._probe_lag(), name="bench-lag")]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.samples.seconds = time.monotonic() - self._started


def _r(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None
