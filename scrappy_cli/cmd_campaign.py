"""`scrappy campaign ...`: work a list of leads (create, list, show, pause, resume, cancel, export)."""

from __future__ import annotations

import time
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

campaign_app = typer.Typer(help="Call a list of leads: within calling hours, skipping do-not-call "
                           "numbers, retrying the ones that did not answer.", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")

FINISHED = {"completed", "cancelled"}


def _read_leads(path: Path, region: str | None) -> list[dict[str, Any]]:
    from daemon.campaigns.leads import parse_leads, read_rows

    try:
        rows = read_rows(path.read_bytes(), path.name)
    except OSError as exc:
        render.error(f"cannot read {path}: {exc.strerror}")
        raise typer.Exit(EXIT_ERROR) from None
    except (UnicodeDecodeError, ValueError, KeyError) as exc:  # not CSV text, or a broken xlsx
        render.error(f"{path}: not a CSV (UTF-8) or XLSX lead list ({exc})")
        raise typer.Exit(EXIT_INVALID) from None
    parsed = parse_leads(rows, region)
    if parsed.problems:
        render.error(f"{path}: {len(parsed.problems)} problem(s); nothing was created")
        render.problems(parsed.problems)
        raise typer.Exit(EXIT_INVALID)
    if parsed.duplicates:
        render.err_console.print(f"note: {parsed.duplicates} duplicate row(s) merged", markup=False)
    return parsed.leads


@campaign_app.command("create")
def create(
    leads_file: Annotated[Path, typer.Argument(metavar="LEADS", help="CSV or XLSX with a phone "
                                               "column (name, company, timezone and any other "
                                               "columns are used too).")],
    simulate_scenario: Annotated[str | None, typer.Argument(
        metavar="SCENARIO", help="With --simulate: the scenario the leads play, as in "
        "`--simulate busy_callback`.", show_default=False)] = None,
    strategy: Annotated[str | None, typer.Option(help="Strategy id (default: the active one).")] = None,
    name: Annotated[str | None, typer.Option(help="A name for the campaign.")] = None,
    concurrency: Annotated[int, typer.Option(help="Calls at once.", min=1, max=100)] = 2,
    window: Annotated[str, typer.Option(
        help="Local calling window of each lead, HH:MM-HH:MM.")] = "09:00-18:00",
    days: Annotated[str, typer.Option(help="Calling days, e.g. mon-fri or mon,wed,fri.")] = "mon-fri",
    max_attempts: Annotated[int, typer.Option(help="Calls per lead at most.", min=1, max=20)] = 3,
    daily_cap: Annotated[int, typer.Option(help="Calls per lead per local day at most.", min=1, max=10)] = 2,
    retry_after: Annotated[str, typer.Option(help="Wait before calling again (2h, 90m, 1d).")] = "2h",
    simulate: Annotated[bool, typer.Option(
        "--simulate", help="Rehearse with simulated leads (every rule applies; calling windows "
        "are not waited for).")] = False,
    scenario: Annotated[str | None, typer.Option(help="Scenario the simulated leads play.")] = None,
    start_at: Annotated[str | None, typer.Option(help="Start later: ISO time with offset.")] = None,
    region: Annotated[str | None, typer.Option(
        help="Country for numbers written without +, e.g. US.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show who would be called, skipped "
                                          "and why; create nothing.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Create a campaign from a lead list and start it.

    `--simulate [SCENARIO]` rehearses it with simulated leads instead.
    """
    if simulate_scenario and not simulate:
        render.error(f"unexpected argument {simulate_scenario!r}; a scenario goes with --simulate")
        raise typer.Exit(EXIT_INVALID)
    if simulate_scenario and scenario and simulate_scenario != scenario:
        render.error(f"two scenarios given ({simulate_scenario!r} and --scenario {scenario!r}); "
                     "pick one")
        raise typer.Exit(EXIT_INVALID)
    scenario = scenario or simulate_scenario
    leads = _read_leads(leads_file, region)
    body = {"leads": leads, "strategy_id": strategy, "name": name or leads_file.stem,
            "concurrency": concurrency, "window": window, "days": days,
            "max_attempts": max_attempts, "daily_cap": daily_cap, "retry_after": retry_after,
            "simulate": simulate or bool(scenario), "scenario": scenario, "start_at": start_at,
            "dry_run": dry_run}
    with api_errors(), DaemonClient(timeout=120) as client:
        made = client.post("/api/v1/campaigns", json=body)
    if json_out:
        render.print_json(made)
        return
    if dry_run:
        render.table(f"dry run: {len(made['leads'])} leads", ["#", "phone", "name", "would", "why"],
                     [[p["index"] + 1, p["phone"], p["name"], p["action"], p["reason"]]
                      for p in made["leads"]])
        return
    render.info(made["id"])


@campaign_app.command("list")
def list_(limit: Annotated[int, typer.Option(help="How many, newest first.", min=1, max=500)] = 20,
          json_out: JsonOpt = False) -> None:
    """List campaigns with their progress."""
    with api_errors(), DaemonClient() as client:
        items = client.get("/api/v1/campaigns", params={"limit": limit})["campaigns"]
    if json_out:
        render.print_json(items)
        return
    render.table(None, ["id", "name", "status", "leads", "finished", "dialled", "booked", "created"],
                 [[c["id"], c["name"], c["status"], c["progress"]["leads"],
                   c["progress"]["finished"], c["progress"]["dialled"],
                   c["progress"]["outcomes"].get("demo_booked", 0), render.short_time(c["created_at"])]
                  for c in items])


@campaign_app.command("show")
def show(campaign_id: str,
         follow: Annotated[bool, typer.Option("--follow", help="Draw live progress until it ends.")] = False,
         json_out: JsonOpt = False) -> None:
    """Show a campaign: settings, progress and every lead's attempts."""
    with api_errors(), DaemonClient() as client:
        if follow:
            def fetch() -> dict[str, Any]:
                data: dict[str, Any] = client.get(f"/api/v1/campaigns/{campaign_id}",
                                                  params={"leads": 0})
                return data

            render.campaign_progress(fetch, FINISHED, poll_s=1.0, sleep=time.sleep)
        data = client.get(f"/api/v1/campaigns/{campaign_id}")
    if json_out:
        render.print_json(data)
        return
    progress = data["progress"]
    render.key_values([("id", data["id"]), ("name", data["name"]), ("status", data["status"]),
                       ("strategy", data["strategy_id"]), ("rehearsal", data["simulated"]),
                       ("rules", data["rules"]), ("progress", progress)])
    render.table("leads", ["#", "phone", "name", "state", "outcome", "attempts", "why / next"],
                 [[lead["index"] + 1, lead["phone"], lead["name"], lead["state"], lead["outcome"],
                   len(lead["attempts"]), _why(lead)] for lead in data["leads"]])


def _why(lead: dict[str, Any]) -> str:
    if lead.get("skip_reason"):
        return str(lead["skip_reason"])
    if lead["attempts"]:
        last = lead["attempts"][-1]
        return str(last.get("next") or last.get("reason") or "")
    return ""


def _control(action: str, campaign_id: str, json_out: bool) -> None:
    with api_errors(), DaemonClient() as client:
        data = client.post(f"/api/v1/campaigns/{campaign_id}/{action}")
    if json_out:
        render.print_json(data)
    else:
        render.info(f"{campaign_id}: {data['requested']}")


@campaign_app.command("pause")
def pause(campaign_id: str, json_out: JsonOpt = False) -> None:
    """Stop placing new calls (calls under way finish)."""
    _control("pause", campaign_id, json_out)


@campaign_app.command("resume")
def resume(campaign_id: str, json_out: JsonOpt = False) -> None:
    """Carry on a paused campaign."""
    _control("resume", campaign_id, json_out)


@campaign_app.command("cancel")
def cancel(campaign_id: str, json_out: JsonOpt = False) -> None:
    """End the campaign: no new calls; leads not reached are marked so."""
    _control("cancel", campaign_id, json_out)


@campaign_app.command("export")
def export(campaign_id: str,
           out: Annotated[Path | None, typer.Option(help="Where to write the .xlsx.")] = None,
           json_out: JsonOpt = False) -> None:
    """Write the campaign's workbook: settings, one row per lead, calls per day (with a chart)."""
    target = out or Path(f"{campaign_id}.xlsx")
    check_xlsx_name(target)
    with api_errors(), DaemonClient(timeout=300) as client:
        content = client.get(f"/api/v1/campaigns/{campaign_id}/export")
    write_download(target, content)
    if json_out:
        render.print_json({"id": campaign_id, "path": str(target.resolve())})
    else:
        render.info(f"wrote {target}")
