"""Daemon, status, strategies and tokens commands."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from scrappy_cli import render
from scrappy_cli.app import EXIT_ERROR, EXIT_INVALID, api_errors, app
from scrappy_cli.client import DaemonClient

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@app.command()
def daemon(
    host: Annotated[str, typer.Option(
        help="Interface to bind.  [default: SCRAPPY_HOST, else 127.0.0.1]", show_default=False)] = "",
    port: Annotated[int, typer.Option(
        help="TCP port.  [default: SCRAPPY_PORT, else 8765]", show_default=False)] = 0,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Data directory.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the daemon in the foreground (systemd-ready; SIGTERM stops it gracefully)."""
    from daemon.config import ConfigError, load_settings
    from daemon.server import run

    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["scrappy_data_dir"] = data_dir
    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        render.error(str(exc))
        raise typer.Exit(EXIT_INVALID) from None
    code = run(settings, host or settings.scrappy_host, port or settings.scrappy_port)
    raise typer.Exit(code)


@app.command()
def status(json_out: JsonOpt = False) -> None:
    """Show daemon health, version, uptime and the backend serving each concern."""
    with api_errors(), DaemonClient() as client:
        client.get("/api/v1/calls", params={"limit": 1})  # a bad token is refused (401), not ignored
        health = client.get("/healthz")
    if json_out:
        render.print_json(health)
        return
    render.key_values([
        ("daemon", f"{client.url} (pid {health['pid']})"),
        ("version", health["version"]),
        ("uptime", f"{health['uptime_seconds']:.0f} s"),
        ("live calls", health["live_calls"]),
        ("data dir", health["data_dir"]),
        *[(k, v) for k, v in health["backends"].items()],
    ])


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="Strategy JSON file.")],
    no_activate: Annotated[bool, typer.Option("--no-activate", help="Store without activating.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Validate and store a strategy as a new version; prints its id and version."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        render.error(f"cannot read {file}: {exc.strerror}")
        raise typer.Exit(EXIT_INVALID) from None
    with api_errors(problems_only=True), DaemonClient() as client:
        doc = client.post("/api/v1/strategies", content=raw,
                          params={"activate": str(not no_activate).lower()},
                          headers={"content-type": "application/json"})
    if json_out:
        render.print_json(doc)
    else:
        state = "active" if doc["active"] else "stored, not active"
        render.info(f"{doc['id']} version {doc['version']} ({state})")


@app.command()
def strategies(json_out: JsonOpt = False) -> None:
    """List strategy versions, newest first."""
    with api_errors(), DaemonClient() as client:
        docs = client.get("/api/v1/strategies")["strategies"]
    if json_out:
        render.print_json(docs)
        return
    render.table(None, ["id", "title", "version", "active", "created", "reason"],
                 [[d["id"], d["title"], d["version"], "yes" if d["active"] else "",
                   render.short_time(d["created_at"]), d.get("reason")] for d in docs])


@app.command()
def activate(strategy_id: str) -> None:
    """Make a stored strategy version the active one."""
    with api_errors(), DaemonClient() as client:
        client.post(f"/api/v1/strategies/{strategy_id}/activate")
    render.info(f"{strategy_id} is now active")


token_app = typer.Typer(help="Manage API tokens (admin).", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="user or admin")] = "user",
    name: Annotated[str | None, typer.Option(help="Who the token is for.")] = None,
    credit_limit: Annotated[float | None, typer.Option(help="Call minutes this user may use.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a token; the secret is printed once."""
    if role not in ("user", "admin"):
        render.error("--role must be user or admin")
        raise typer.Exit(EXIT_INVALID)
    with api_errors(), DaemonClient() as client:
        doc = client.post("/api/v1/tokens", json={"role": role, "name": name,
                                                  "credit_limit": credit_limit})
    if json_out:
        render.print_json(doc)
    else:
        render.info(f"created {doc['role']} token {doc['id']} for {doc['name']}:")
        render.info(doc["token"])


@token_app.command("list")
def token_list(json_out: JsonOpt = False) -> None:
    """List tokens (never their secrets)."""
    with api_errors(), DaemonClient() as client:
        docs = client.get("/api/v1/tokens")["tokens"]
    if json_out:
        render.print_json(docs)
        return
    render.table(None, ["id", "name", "role", "created", "revoked"],
                 [[d["id"], d["name"], d["role"], render.short_time(d["created_at"]),
                   "yes" if d["revoked"] else ""] for d in docs])


@token_app.command("revoke")
def token_revoke(token_id: str) -> None:
    """Revoke a token by id."""
    with api_errors(), DaemonClient() as client:
        client.delete(f"/api/v1/tokens/{token_id}")
    render.info(f"revoked {token_id}")


__all__ = ["EXIT_ERROR", "daemon"]
