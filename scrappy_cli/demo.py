"""`scrappy demo`: a full simulated call on this machine, no accounts needed.

Reuses a daemon that already answers at SCRAPPY_URL, or starts one with its own data dir (and
stops it afterwards). Then: ingest the sample strategy, place a simulated call, show the live
transcript, print a latency table and the Excel summary's path.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from scrappy_cli import render
from scrappy_cli.app import EXIT_ERROR, api_errors, app
from scrappy_cli.client import DEFAULT_URL, DaemonClient, find_token, setting

DEMO_PHONE = "+14155550123"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _daemon() -> Iterator[tuple[str, str | None]]:
    """Yield (url, token) of a running daemon, starting a private one if needed."""
    url = (setting("SCRAPPY_URL") or DEFAULT_URL).rstrip("/")
    if _answers(url):
        render.info(f"using the daemon at {url}")
        yield url, find_token()
        return
    data_dir = Path(tempfile.mkdtemp(prefix="scrappy-demo-"))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = data_dir / "daemon.log"
    render.info(f"starting a demo daemon on {url} (data in {data_dir})")
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scrappy_cli.main", "daemon", "--port", str(port),
             "--data-dir", str(data_dir)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "SCRAPPY_DATA_DIR": str(data_dir)})
    try:
        with render.console.status("loading models and the embedded database..."):
            deadline = time.monotonic() + 60
            while not _answers(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    render.error("the demo daemon did not start; its log follows")
                    sys.stderr.write(log_path.read_text("utf-8", errors="replace")[-3000:])
                    raise typer.Exit(EXIT_ERROR)
                time.sleep(0.1)
        yield url, (data_dir / "admin.token").read_text("utf-8").strip()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _latency_rows(turns: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for turn in turns:
        lat = turn.get("latency_ms")
        if turn["role"] != "agent" or not lat:
            continue
        rows.append([turn["index"], *[("" if lat.get(k) is None else f"{lat[k]:.0f}")
                                      for k in ("endpoint", "asr", "llm_first_token",
                                                "tts_first_audio", "total")],
                     turn["text"][:48]])
    return rows


@app.command()
def demo(
    strategy: Annotated[Path | None, typer.Option(help="Strategy JSON (default: the sample).")] = None,
    scenario: Annotated[str, typer.Option(help="Simulated lead scenario.")] = "pricing_then_demo",
) -> None:
    """Rehearse a whole call locally: daemon, strategy, simulated lead, transcript, Excel."""
    from daemon.bundled import strategies_dir
    from scrappy_cli.cmd_calls import _follow

    path = strategy or strategies_dir() / "enterprise_saas.json"
    started = time.monotonic()
    with _daemon() as (url, token), api_errors(), DaemonClient(url, token) as client:
        doc = client.post("/api/v1/strategies", content=path.read_bytes(),
                          headers={"content-type": "application/json"})
        render.info(f"ingested {doc['id']} (version {doc['version']})")
        call = client.post("/api/v1/calls", json={"phone": DEMO_PHONE, "name": "Demo Lead",
                                                   "simulate": True, "scenario": scenario})
        for warning in call.get("warnings", []):
            render.info(f"[dim]dry-run dialing policy: {warning}[/]")
        render.info(f"placed simulated call {call['id']} (scenario {scenario})\n")
        _follow(client, call["id"])
        final = client.get(f"/api/v1/calls/{call['id']}")
        deadline = time.monotonic() + 15
        while not final.get("workbook") and time.monotonic() < deadline:
            time.sleep(0.2)
            final = client.get(f"/api/v1/calls/{call['id']}")
    render.info("")
    render.table("latency per agent turn (ms)",
                 ["#", "endpoint", "asr", "llm first", "tts first", "total", "reply"],
                 _latency_rows(final["turns"]))
    render.key_values([("outcome", final["outcome"]), ("detail", final.get("outcome_detail")),
                       ("duration", f"{final['duration_seconds']} s"),
                       ("excel summary", final.get("workbook") or "(not written)"),
                       ("demo took", f"{time.monotonic() - started:.0f} s")])
