"""`scrappy ops`: the operators' console, a Textual TUI over the daemon's HTTP API.

Importing this package is cheap on purpose: only `app.py` and the widget modules import
Textual, and `scrappy_cli.cmd_ops` imports them inside the command, so `scrappy --help` never
pays for Textual.
"""
