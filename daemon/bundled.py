"""Where the shipped strategies and simulated-lead scenarios live.

In a checkout (and an editable install) they are the repository's `strategies/` folder; a
regular `pip install .` copies them to `<prefix>/share/scrappy/strategies` (see pyproject's
data-files). `SCRAPPY_STRATEGIES_DIR` points elsewhere; `SCRAPPY_SCENARIOS_DIR` overrides only
the scenarios.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CHECKOUT_STRATEGIES = Path(__file__).resolve().parents[1] / "strategies"
INSTALLED_STRATEGIES = Path(sys.prefix) / "share" / "scrappy" / "strategies"


def strategies_dir() -> Path:
    override = os.environ.get("SCRAPPY_STRATEGIES_DIR")
    if override:
        return Path(override)
    return CHECKOUT_STRATEGIES if CHECKOUT_STRATEGIES.is_dir() else INSTALLED_STRATEGIES


def scenarios_dir() -> Path:
    override = os.environ.get("SCRAPPY_SCENARIOS_DIR")
    return Path(override) if override else strategies_dir() / "scenarios"
