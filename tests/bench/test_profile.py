"""The CPU profile benchmark: py-spy's stacks, read and grouped by what the daemon was doing.

The summarising is checked on stacks written the way py-spy writes them; the recorder is checked
against a real py-spy attached to a real Python process (a child that spins in a known function).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import profile
from benchmarks.__main__ import main
from benchmarks.profile import OTHER_AREA, Frame, Recorder, parse_collapsed, parse_frame, summarise_stacks

SITE = "/work/.venv/lib/python3.11/site-packages/"
STACKS = "\n".join([
    # an ASR worker thread: the innermost own frame is the ASR backend, the leaf is CTranslate2's
    "_bootstrap (threading.py:1002);run (concurrent/futures/thread.py:58);"
    "_transcribe (/repo/daemon/speech/asr.py:301);generate_segments (faster_whisper/transcribe.py:1200);"
    "generate_with_fallback (faster_whisper/transcribe.py:1650) 40",
    # mu-law encoding in numpy, called from the codec: counts as the codec's, not numpy's
    "run (asyncio/events.py:80);send_audio (/repo/daemon/calls/session.py:410);"
    "encode (/repo/daemon/media/mulaw.py:31);clip (numpy/core/fromnumeric.py:2100) 10",
    # the VAD, under the session
    "run (asyncio/events.py:80);on_media (/repo/daemon/calls/session.py:300);"
    "is_speech (/repo/daemon/media/vad.py:57);is_speech (webrtcvad.py:27) 5",
    # websockets framing with no frame of ours below the event loop
    "_run_once (asyncio/base_events.py:1900);run (asyncio/events.py:80);"
    f"recv (websockets/asyncio/connection.py:300);parse ({SITE}websockets/frames.py:120) 3",
    # the event loop itself, under the daemon's entry point: not the daemon's own work
    "run (/repo/daemon/server.py:80);run_forever (asyncio/base_events.py:608);"
    "_run_once (asyncio/base_events.py:1936);select (selectors.py:468) 2",
    "not a stack line",
    "",
])


def test_frames_and_lines_are_read_as_py_spy_writes_them() -> None:
    mulaw = "/repo/daemon/media/mulaw.py"
    assert parse_frame(f"encode ({mulaw}:31)") == Frame("encode", mulaw)
    assert parse_frame("<module> (<frozen site>:616)") == Frame("<module>", "<frozen site>")
    assert parse_frame("process 12:\"python x.py\"") == Frame("process 12:\"python x.py\"", "")
    stacks = parse_collapsed(STACKS)
    assert [count for _, count in stacks] == [40, 10, 5, 3, 2]
    assert stacks[0][0][-1] == Frame("generate_with_fallback", "faster_whisper/transcribe.py")


def test_samples_are_grouped_by_area_by_our_function_and_by_leaf() -> None:
    summary = summarise_stacks(parse_collapsed(STACKS), seconds=1.0, rate_hz=100)
    assert summary["samples"] == 60 and summary["cores_busy"] == 0.6
    areas = {row["area"]: row for row in summary["areas"]}
    assert areas["ASR (faster-whisper)"]["samples"] == 40
    assert areas["ASR (faster-whisper)"]["cores"] == 0.4
    assert areas["audio codec, resampling, pacing"]["samples"] == 10
    assert areas["VAD and turn detection"]["samples"] == 5
    assert areas["WebSocket and HTTP"]["samples"] == 3
    assert areas[OTHER_AREA]["samples"] == 2
    assert summary["areas"][0]["area"] == "ASR (faster-whisper)"  # largest first
    own = {row["function"]: row["samples"] for row in summary["own_functions"]}
    assert own == {"_transcribe (daemon/speech/asr.py)": 40, "encode (daemon/media/mulaw.py)": 10,
                   "is_speech (daemon/media/vad.py)": 5, "(none: event loop, libraries)": 5}
    leaves = {row["function"]: row["share_pct"] for row in summary["leaf_functions"]}
    assert leaves["parse (websockets/frames.py)"] == 5.0  # site-packages prefix dropped


def test_the_recorder_samples_a_real_process_with_py_spy(tmp_path: Path) -> None:
    script = tmp_path / "workload.py"
    script.write_text(
        "import time\n"
        "def spin_here():\n"
        "    total = 0\n"
        "    for i in range(200_000):\n"
        "        total += i * i\n"
        "    return total\n"
        "end = time.monotonic() + 60\n"
        "while time.monotonic() < end:\n"
        "    spin_here()\n")
    child = subprocess.Popen([sys.executable, str(script)])
    try:
        async def record() -> Recorder:
            recorder = Recorder(child.pid, tmp_path / "stacks.txt", rate_hz=50)
            async with recorder:
                await asyncio.sleep(1.5)
                await recorder.stop()
            return recorder

        recorder = asyncio.run(record())
    finally:
        child.kill()
        child.wait()
    summary = summarise_stacks(parse_collapsed(recorder.output.read_text()), seconds=recorder.seconds,
                               rate_hz=50)
    assert summary["samples"] > 0, recorder.log
    top = summary["leaf_functions"][0]
    assert top["function"].startswith("spin_here ("), summary["leaf_functions"]
    assert top["share_pct"] > 50


def test_the_recorder_says_when_it_cannot_attach(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # the pid is gone

    async def attach() -> None:
        await Recorder(child.pid, tmp_path / "x.txt").start(settle_s=2.0)

    with pytest.raises(RuntimeError, match="could not attach"):
        asyncio.run(attach())


@pytest.mark.parametrize("flags", [["--profile", "--ablations"], ["--turns", "--profile"],
                                   ["--faults", "--turns"], ["--campaign", "--faults"]])
def test_extra_runs_are_one_at_a_time(flags: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(flags)
    assert exited.value.code == 2
    assert ("choose one of --ablations, --profile, --turns, --faults and --campaign"
            in capsys.readouterr().err)


def test_profile_tables_show_areas_and_our_functions() -> None:
    result = {"concurrency": 20, "scenario": "latency_probe", "voice_to_voice_ms": {"p95": 540.2},
              "generated_at": "2026-01-01T10:00:00+00:00", "git": {"commit": "abc", "dirty": False},
              "machine": {"cpu_count": 2, "cpu_model": "Test CPU", "memory_gb": 8.0, "python": "3.11"},
              "profile": summarise_stacks(parse_collapsed(STACKS), seconds=1.0, rate_hz=100)}
    areas, own = profile.profile_tables(result)
    assert "20 concurrent latency_probe calls" in areas.title and "0.6 cores busy" in areas.title
    assert areas.rows[0] == ["ASR (faster-whisper)", "66.7 %", "0.40"]
    assert own.rows[0] == ["`_transcribe (daemon/speech/asr.py)`", "66.7 %"]
    assert "| ASR (faster-whisper) | 66.7 % | 0.40 |" in profile.to_markdown(result)
