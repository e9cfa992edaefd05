"""Where the daemon's CPU goes under load: py-spy samples the daemon while concurrent calls run.

`python -m benchmarks --profile` (`make bench-profile`) starts a daemon exactly as the other
benchmarks do, runs one capacity level (20 concurrent calls unless `--levels` says otherwise) and
has py-spy sample the daemon for the whole level. py-spy reads the process from outside
(`--nonblocking`: it never pauses the daemon, so the calls' latency is measured as usual) and
leaves idle threads out, so every sample is one thread of the daemon on a CPU.

The stacks are summarised three ways:
* by **area** (ASR, TTS, VAD, audio codec, WebSocket, store...): each sample goes to the area of
  the innermost frame that belongs to one, so time spent in numpy on behalf of the mu-law codec
  counts as the codec's; "cores" is samples / (rate x seconds), i.e. how many CPUs it kept busy;
* by **our function**: the innermost frame in our own packages, i.e. which of our functions led
  to the CPU being spent (the place to optimise);
* by **leaf function**: where the CPU literally was.
The raw stacks are kept as `profile.collapsed.txt` (one `frame;frame;... count` line per stack),
which flamegraph.pl and speedscope.app read as they are.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.capacity import run_level
from benchmarks.harness import DaemonUnderTest, LeadVoices, scenario_named
from benchmarks.meta import command_line, git_state, machine, now_iso
from benchmarks.report import (
    Table,
    measured_line,
    ms,
    num,
    print_rich_tables,
    render_markdown_tables,
    update_marked_file,
    write_pair,
)

START_MARK, END_MARK = "<!-- profile:start -->", "<!-- profile:end -->"
DEFAULT_LEVEL = 20
RATE_HZ = 100
TOP = 12

OWN_PACKAGES = ("daemon/", "agentcore/", "scrappy_cli/")
# (area, path fragments); a frame belongs to the first area whose fragment its file contains
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ASR (faster-whisper)", ("faster_whisper/", "ctranslate2/", "daemon/speech/asr")),
    ("TTS (Piper)", ("piper/", "onnxruntime/", "daemon/speech/piper_tts", "daemon/speech/tts")),
    ("VAD and turn detection", ("webrtcvad", "daemon/media/vad", "daemon/media/turns")),
    ("audio codec, resampling, pacing", ("daemon/media/", "soxr/")),
    ("store (MongoDB wire protocol)", ("pymongo/", "bson/", "secantus", "daemon/store/")),
    ("Excel summaries", ("openpyxl/",)),
    ("WebSocket and HTTP", ("websockets/", "uvicorn/", "starlette/", "h11/", "httptools/",
                            "wsproto/", "httpx/", "httpcore/", "daemon/api/")),
    ("calls, brain and the rest of the daemon", OWN_PACKAGES),
)
OTHER_AREA = "event loop, logging, other"
LOOP_FILES = ("asyncio/base_events.py", "asyncio/events.py", "asyncio/runners.py")
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


@dataclass(frozen=True)
class Frame:
    func: str
    file: str

    @property
    def label(self) -> str:
        return f"{self.func} ({self.file})"


def parse_frame(text: str) -> Frame:
    """`func (path/to/file.py:123)` -> Frame(func, file); anything else is kept whole as `func`."""
    match = _FRAME.match(text.strip())
    if not match:
        return Frame(text.strip(), "")
    return Frame(match["func"], match["file"])


def parse_collapsed(text: str) -> list[tuple[list[Frame], int]]:
    """py-spy's raw output: one `root;...;leaf count` line per distinct stack."""
    stacks = []
    for line in text.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        stacks.append(([parse_frame(f) for f in stack.split(";") if f.strip()], int(count)))
    return stacks


def callback_frames(frames: list[Frame]) -> list[Frame]:
    """The frames below the event loop's dispatch (all of them in a worker thread).

    Every main-thread stack starts at `daemon/server.py` and runs through asyncio's loop, so
    only what the loop called tells what the CPU was doing; a sample in the loop itself (epoll,
    scheduling) has no callback frames and counts as the event loop's.
    """
    for depth in range(len(frames) - 1, -1, -1):
        if frames[depth].file.endswith(LOOP_FILES):
            return frames[depth + 1:]
    return frames


def area_of(frames: list[Frame]) -> str:
    """The area of the innermost frame that belongs to one (see the module docstring)."""
    for frame in reversed(callback_frames(frames)):
        for area, fragments in AREAS:
            if any(fragment in frame.file for fragment in fragments):
                return area
    return OTHER_AREA


def own_frame(frames: list[Frame]) -> Frame | None:
    for frame in reversed(callback_frames(frames)):
        if any(package in frame.file for package in OWN_PACKAGES):
            return frame
    return None


def _short(path: str) -> str:
    """A file path from where our packages or site-packages start (no machine-local prefix)."""
    for package in OWN_PACKAGES:
        at = path.find(package)
        if at >= 0:
            return path[at:]
    return path.rsplit("site-packages/", 1)[-1]


def summarise_stacks(stacks: Iterable[tuple[list[Frame], int]], *, seconds: float,
                     rate_hz: int = RATE_HZ, top: int = TOP) -> dict[str, Any]:
    """Samples by area, by our innermost function and by leaf function."""
    areas: Counter[str] = Counter()
    own: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for frames, count in stacks:
        if not frames:
            continue
        total += count
        areas[area_of(frames)] += count
        mine = own_frame(frames)
        own[f"{mine.func} ({_short(mine.file)})" if mine else "(none: event loop, libraries)"] += count
        leaves[f"{frames[-1].func} ({_short(frames[-1].file)})"] += count

    def rows(counter: Counter[str], key: str, limit: int | None) -> list[dict[str, Any]]:
        return [{key: name, "samples": n, "share_pct": round(100.0 * n / total, 1),
                 "cores": round(n / (rate_hz * seconds), 2) if seconds > 0 else None}
                for name, n in counter.most_common(limit)]

    return {"samples": total, "rate_hz": rate_hz, "seconds": round(seconds, 1),
            "cores_busy": round(total / (rate_hz * seconds), 2) if seconds > 0 else None,
            "areas": rows(areas, "area", None), "own_functions": rows(own, "function", top),
            "leaf_functions": rows(leaves, "function", top)}


def py_spy() -> str:
    """The py-spy executable next to this interpreter, or on PATH."""
    local = Path(sys.executable).with_name("py-spy")
    found = str(local) if local.exists() else shutil.which("py-spy")
    if not found:
        raise RuntimeError("py-spy is not installed: pip install py-spy (it is in the dev extra)")
    return found


class Recorder:
    """`py-spy record` attached to a running process until `stop()`; the stacks go to `output`."""

    def __init__(self, pid: int, output: Path, rate_hz: int = RATE_HZ) -> None:
        self.pid, self.output, self.rate_hz = pid, output, rate_hz
        output.parent.mkdir(parents=True, exist_ok=True)
        self._proc: asyncio.subprocess.Process | None = None
        self._started = 0.0
        self.seconds = 0.0
        self.log = ""

    async def start(self, settle_s: float = 1.0) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            py_spy(), "record", "--pid", str(self.pid), "--rate", str(self.rate_hz),
            "--format", "raw", "--output", str(self.output), "--nonblocking", "--subprocesses",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        await asyncio.sleep(settle_s)  # attaching takes a moment; fail early if it could not
        if self._proc.returncode is not None:
            out = (await self._proc.stdout.read()).decode(errors="replace") if self._proc.stdout else ""
            raise RuntimeError(f"py-spy could not attach to pid {self.pid}: {out.strip()}")
        self._started = time.monotonic()

    async def stop(self, timeout_s: float = 30.0) -> Path:
        """SIGINT (py-spy then writes its file); returns the file's path."""
        proc = self._proc
        assert proc is not None, "recorder not started"
        self.seconds = time.monotonic() - self._started
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
        except TimeoutError:
            proc.kill()
            out, _ = await proc.communicate()
        self.log = (out or b"").decode(errors="replace").strip()
        if not self.output.exists():
            raise RuntimeError(f"py-spy wrote no profile (exit {proc.returncode}): {self.log}")
        return self.output

    async def __aenter__(self) -> Recorder:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.returncode is None:
            await self.stop()


async def run_profile(*, level: int = DEFAULT_LEVEL, scenario: str = "latency_probe",
                      strategy: Path, ramp_s: float = 2.0, out_dir: Path,
                      progress: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Profile one capacity level of `level` calls; the raw stacks go to `out_dir`."""
    raw = out_dir / "profile.collapsed.txt"
    voices = LeadVoices()
    progress("synthesising the leads' lines")
    await voices.prepare([scenario_named(scenario)])
    daemon = DaemonUnderTest()
    try:
        progress("starting the daemon")
        await daemon.start()
        progress(f"ingesting {strategy.name} and waiting for its lines to be pre-synthesised")
        await daemon.ingest(strategy)
        progress(f"profiling the daemon (py-spy, {RATE_HZ} Hz) during {level} concurrent call(s)")
        recorder = Recorder(daemon.pid, raw)
        async with recorder:
            row = await run_level(daemon, voices, level, scenario=scenario, ramp_s=ramp_s, asr=None)
            await recorder.stop()
        progress(f"raw stacks in {raw}")
    finally:
        progress("stopping the daemon")
        exit_code = await daemon.stop()
        daemon.cleanup()
        await voices.close()
    summary = summarise_stacks(parse_collapsed(raw.read_text("utf-8", errors="replace")),
                               seconds=recorder.seconds)
    return {"generated_at": now_iso(), "command": command_line(), "machine": machine(),
            "git": git_state(), "scenario": scenario, "concurrency": level,
            "voice_to_voice_ms": row["voice_to_voice_ms"], "turns": row["turns"],
            "daemon_cpu_pct": row["daemon_cpu_pct"], "daemon_exit_code": exit_code,
            "profile": summary, "raw_stacks": raw.name}


def profile_tables(result: dict[str, Any]) -> list[Table]:
    prof = result["profile"]
    v2v = result["voice_to_voice_ms"]
    head = (f"{result['concurrency']} concurrent {result['scenario']} calls under py-spy: "
            f"{prof['cores_busy']} cores busy on average, v2v p95 {ms(v2v.get('p95'))} ms")
    areas = Table(f"Where the daemon's CPU went ({head})", ["area", "share", "cores"])
    areas.rows = [[r["area"], num(r["share_pct"], 1, " %"), num(r["cores"], 2)] for r in prof["areas"]]
    own = Table("Our functions that spent it (innermost frame of ours)", ["function", "share"])
    own.rows = [[f"`{r['function']}`", num(r["share_pct"], 1, " %")] for r in prof["own_functions"]]
    return [areas, own]


def print_tables(result: dict[str, Any]) -> None:
    print_rich_tables(profile_tables(result))


def to_markdown(result: dict[str, Any]) -> str:
    return "\n".join([measured_line(result) + ".", "", render_markdown_tables(profile_tables(result)),
                      "Generated by `python -m benchmarks --profile` (`make bench-profile`); all "
                      "numbers in `benchmarks/results/profile.json`, raw stacks in "
                      "`profile.collapsed.txt` (flamegraph.pl / speedscope).", ""])


def write(result: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    return write_pair(result, to_markdown(result), out_dir, "profile")


def update_readme(markdown: str, readme: Path) -> bool:
    return update_marked_file(readme, markdown, START_MARK, END_MARK)

