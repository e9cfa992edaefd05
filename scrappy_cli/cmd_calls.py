"""Call commands: call, calls, show, tail, export, feedback, train, usage, dnc."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from scrappy_cli import render
from scrappy_cli.app import (
    EXIT_ERROR,
    EXIT_INVALID,
    api_errors,
    app,
    check_xlsx_name,
    write_download,
)
from scrappy_cli.client import DaemonClient
from scrappy_cli.cmd_core import JsonOpt

TERMINAL_STATUSES = {"completed", "failed", "busy", "no-answer", "canceled"}


@app.command()
def call(
    phone: Annotated[str, typer.Argument(help="Lead's number in E.164, e.g. +15551234567.")],
    simulate_scenario: Annotated[str | None, typer.Argument(
        metavar="SCENARIO", help="With --simulate: the scenario, as in `--simulate busy_callback`.",
        show_default=False)] = None,
    name: Annotated[str | None, typer.Option(help="Lead's name.")] = None,
    strategy: Annotated[str | None, typer.Option(help="Strategy id (default: the active one).")] = None,
    simulate: Annotated[bool, typer.Option("--simulate", help="Rehearse with a simulated lead.")] = False,
    scenario: Annotated[
        str | None, typer.Option(help="Scenario for --simulate (default pricing_then_demo).")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Stream the transcript until the call ends.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Admin: override calling hours (audited).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Place a call (returns at once with the call id; --follow streams the turns).

    `scrappy call PHONE --simulate [SCENARIO]` rehearses with a simulated lead instead.
    """
    if simulate_scenario and not simulate:
        render.error(f"unexpected argument {simulate_scenario!r}; a scenario goes with --simulate")
        raise typer.Exit(EXIT_INVALID)
    if simulate_scenario and scenario and simulate_scenario != scenario:
        render.error(f"two scenarios given ({simulate_scenario!r} and --scenario {scenario!r}); pick one")
        raise typer.Exit(EXIT_INVALID)
    scenario = scenario or simulate_scenario
    if scenario and ("/" in scenario or scenario.endswith(".json")):
        render.error(f"{scenario!r}: the daemon runs scenarios by name only; copy the file into "
                     "its scenarios folder (SCRAPPY_SCENARIOS_DIR) and pass the name without .json")
        raise typer.Exit(EXIT_INVALID)
    body = {"phone": phone, "name": name, "strategy_id": strategy, "simulate": simulate or bool(scenario),
            "scenario": scenario, "force": force}
    with api_errors(), DaemonClient() as client:
        created = client.post("/api/v1/calls", json=body)
        if json_out and not follow:
            render.print_json(created)
            return
        for warning in created.get("warnings", []):
            render.err_console.print(f"warning: {warning}", markup=False)
        render.info(created["id"])
        if follow:
            _follow(client, created["id"])


def _follow(client: DaemonClient, call_id: str | None) -> dict[str, Any] | None:
    """Print live turns until the call ends; returns the final call snapshot."""
    following = call_id
    for event in client.events(call_id):
        kind = event["type"]
        if kind == "error":  # e.g. an unknown call id
            render.error(str(event.get("error")))
            raise typer.Exit(EXIT_ERROR)
        if kind == "snapshot" and following is None:
            calls = sorted(event["calls"], key=lambda c: c["started_at"])
            if calls:
                following = calls[-1]["call_id"]
                render.info(f"following {following}")
            else:
                render.info("waiting for a call...")
        elif kind == "call_started" and following is None:
            following = event["call_id"]
            render.info(f"following {following}")
        if event.get("call_id") != following or following is None:
            continue
        if kind == "turn":
            turn = event["turn"]
            latency = render.latency_cell(turn.get("latency_ms"))
            flag = " [interrupted]" if turn.get("interrupted") else ""
            stage = turn.get("stage") or ""
            render.info(f"{turn['role']:>5} | {stage:<9} | {latency:>8} | {turn['text']}{flag}")
        elif kind == "call_ended":
            final = event.get("call", {})
            render.info(f"call ended: outcome {final.get('outcome')}")
            return final
    return None


@app.command()
def calls(
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1, max=500)] = 20,
    json_out: JsonOpt = False,
) -> None:
    """List recent calls."""
    with api_errors(), DaemonClient() as client:
        items = client.get("/api/v1/calls", params={"limit": limit})["calls"]
    if json_out:
        render.print_json(items)
        return
    render.table(None, ["id", "lead", "direction", "status", "outcome", "started", "secs"],
                 [[c["id"], c["lead_name"] or c["lead_phone"], c["direction"], c["status"],
                   c["outcome"], render.short_time(c["started_at"]), c["duration_seconds"]]
                  for c in items])


@app.command()
def show(call_id: str, json_out: JsonOpt = False) -> None:
    """Show one call with its transcript and per-turn latency."""
    with api_errors(), DaemonClient() as client:
        data = client.get(f"/api/v1/calls/{call_id}")
    if json_out:
        render.print_json(data)
        return
    render.key_values([(k, data.get(k)) for k in (
        "id", "direction", "status", "lead_phone", "lead_name", "strategy_id", "started_at",
        "ended_at", "duration_seconds", "outcome", "outcome_detail", "tokens_used", "workbook")])
    render.table("transcript", ["#", "role", "stage", "latency", "text"],
                 [[t["index"], t["role"], t.get("stage"), render.latency_cell(t["latency_ms"]),
                   t["text"] + (" [interrupted]" if t["interrupted"] else "")]
                  for t in data["turns"]])


@app.command()
def tail(
    call_id: Annotated[str | None, typer.Argument(help="Call id (default: newest live call).")] = None,
) -> None:
    """Follow a live transcript: speaker, text, stage, per-turn latency. Ends with the call."""
    with api_errors(), DaemonClient() as client:
        _follow(client, call_id)


@app.command()
def export(
    since: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD.")] = None,
    out: Annotated[Path | None, typer.Option(help="Where to write the .xlsx.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Export calls, turns and a per-day summary (with a chart) to Excel."""
    check_xlsx_name(out)
    for label, value in (("--since", since), ("--until", until)):
        if value:
            try:
                date.fromisoformat(value)
            except ValueError:
                render.error(f"{label} must be a date like 2026-11-25")
                raise typer.Exit(EXIT_INVALID) from None
    with api_errors(), DaemonClient(timeout=300) as client:
        made = client.post("/api/v1/exports", json={"since": since, "until": until})
        content = client.get(f"/api/v1/exports/{made['name']}", params={"kind": "exports"})
    target = out or Path(made["name"])
    write_download(target, content)
    if json_out:
        render.print_json({**made, "path": str(target.resolve())})
    else:
        render.info(f"wrote {target} ({made['calls']} calls)")


@app.command()
def feedback(
    call_id: str,
    text: str,
    importance: Annotated[int, typer.Option(min=1, max=5)] = 1,
) -> None:
    """Attach feedback to a call; the train loop learns from it."""
    with api_errors(), DaemonClient() as client:
        client.post("/api/v1/feedback", json={"call_id": call_id, "text": text,
                                              "importance": importance})
    render.info(f"feedback stored for {call_id}")


@app.command()
def train(
    now: Annotated[bool, typer.Option("--now", help="Run the train loop now (admin).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Run the self-improvement train loop (it also runs daily on its own)."""
    if not now:
        render.info("the train loop runs daily (TRAIN_LOOP_TIME); use --now to run it now")
        return
    with api_errors(), DaemonClient(timeout=300) as client:
        result = client.post("/api/v1/train")
    if json_out:
        render.print_json(result)
        return
    render.info(f"train loop: {result.get('status')}")
    improvement = result.get("improvement") or {}
    for label, value in (("reason", result.get("reason")),
                         ("new strategy version", result.get("strategy_id")),
                         ("summary", improvement.get("summary"))):
        if value:
            render.info(f"  {label}: {value}")
    for suggestion in result.get("suggestions", []) or []:
        render.info(f"  - {suggestion}")


@app.command()
def usage(json_out: JsonOpt = False) -> None:
    """Daily minutes, tokens and calls; top strategies; your budget."""
    with api_errors(), DaemonClient() as client:
        data = client.get("/api/v1/usage/summary")
    if json_out:
        render.print_json(data)
        return
    render.table("usage per day", ["date", "calls", "minutes", "tokens", "tts chars", "asr s"],
                 [[d["date"], d["calls"], d["minutes"], d["tokens"], d["tts_chars"], d["asr_seconds"]]
                  for d in data["days"]])
    user = data["user"]
    limit = f" of {user['credit_limit']}" if user.get("credit_limit") else ""
    render.info(f"{user['name']}: {user['usage_minutes']}{limit} call minutes used")


dnc_app = typer.Typer(help="The do-not-call list.", no_args_is_help=True)
app.add_typer(dnc_app, name="dnc")


@dnc_app.command("add")
def dnc_add(
    phone: str,
    reason: Annotated[str, typer.Option(help="Why (kept with the number).")] = "added by operator",
    region: Annotated[str | None, typer.Option(help="Region for a number without +, e.g. US.")] = None,
) -> None:
    """Add a number."""
    with api_errors(), DaemonClient() as client:
        result = client.post("/api/v1/dnc", json={"phone": phone, "reason": reason,
                                                  "default_region": region})
    render.info(f"added {', '.join(result['added'])}" if result["added"] else "already listed")


@dnc_app.command("remove")
def dnc_remove(phone: str) -> None:
    """Remove a number (admin)."""
    with api_errors(), DaemonClient() as client:
        result = client.delete(f"/api/v1/dnc/{phone}")
    render.info(f"removed {result['removed']}")


@dnc_app.command("list")
def dnc_list(json_out: JsonOpt = False) -> None:
    """List numbers."""
    with api_errors(), DaemonClient() as client:
        numbers = client.get("/api/v1/dnc")["numbers"]
    if json_out:
        render.print_json(numbers)
        return
    render.table(None, ["phone", "reason", "source", "added"],
                 [[n["phone"], n["reason"], n["source"], render.short_time(n["added_at"])] for n in numbers])


@dnc_app.command("import")
def dnc_import(
    file: Annotated[Path, typer.Argument(help="Text or CSV file, one number per line (first column).")],
    region: Annotated[str | None, typer.Option(help="Region for numbers without +, e.g. US.")] = None,
    skip_invalid: Annotated[bool, typer.Option(
        "--skip-invalid", help="Import the valid numbers even if some lines are not numbers.")] = False,
) -> None:
    """Import numbers from a file: all of them, or (with any bad line) none, unless --skip-invalid."""
    from daemon.calls.dialing import InvalidPhoneNumber, normalise_phone

    try:
        lines = file.read_text("utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        render.error(f"cannot read {file}: {exc}")
        raise typer.Exit(EXIT_INVALID) from None
    phones, problems = [], []
    for number, line in enumerate(lines, start=1):
        first = line.split(",")[0].strip()
        if not first or first.startswith("#") or first.lower() in ("phone", "number"):
            continue
        try:
            phones.append(normalise_phone(first, region))
        except InvalidPhoneNumber as exc:
            problems.append(f"{file.name}:{number}: {exc}")
    if problems and not skip_invalid:
        render.error(f"{len(problems)} line(s) are not phone numbers; nothing was imported "
                     "(fix them, or pass --skip-invalid)")
        render.problems(problems)
        raise typer.Exit(EXIT_INVALID)
    with api_errors(), DaemonClient() as client:
        result = client.post("/api/v1/dnc", json={"phones": phones,
                                                  "reason": f"imported from {file.name}"})
    render.info(f"imported {len(result['added'])} new numbers")
    if problems:
        render.err_console.print(f"skipped {len(problems)} invalid line(s):", markup=False)
        render.problems(problems)
