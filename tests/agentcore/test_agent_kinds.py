"""Subagent kinds from an installed plug-in (a `scrappy.agents` entry point), and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentcore import agent_kinds
from agentcore.strategy import StrategyError, validate_strategy

PLUGIN = '''
class NotesAgent:
    """A plug-in subagent kind."""

    def __init__(self, **init):
        self.init = init
'''


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A real distribution on sys.path: a module plus a dist-info with its entry point."""
    (tmp_path / "scrappy_notes_plugin.py").write_text(PLUGIN, "utf-8")
    info = tmp_path / "scrappy_notes_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: scrappy-notes-plugin\nVersion: 1.0\n",
                                   "utf-8")
    (info / "entry_points.txt").write_text(
        "[scrappy.agents]\nnotes = scrappy_notes_plugin:NotesAgent\n", "utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    agent_kinds._plugins.cache_clear()
    yield
    agent_kinds._plugins.cache_clear()


def _with_subagent(kind: str) -> dict[str, object]:
    return {"title": "T", "persona": {"name": "Ada"},
            "subagents": [{"name": "scribe", "class": kind, "init": {"tone": "dry"}}]}


def test_an_installed_plugin_kind_is_accepted_and_loaded(installed_plugin: None) -> None:
    assert agent_kinds.canonical_kind("Notes") == "notes"
    assert "notes" in agent_kinds.known_kinds()
    cls = agent_kinds.load_kind("notes")
    assert cls.__name__ == "NotesAgent" and cls.__module__ == "scrappy_notes_plugin"
    strategy = validate_strategy(_with_subagent("notes"))
    assert strategy.subagents[0].kind == "notes"


def test_a_dotted_path_to_the_same_class_is_still_refused(installed_plugin: None) -> None:
    with pytest.raises(StrategyError) as info:
        validate_strategy(_with_subagent("scrappy_notes_plugin.NotesAgent"))
    assert any(p.startswith("subagents.0.class: unknown") for p in info.value.problems)


def test_without_the_plugin_the_kind_is_unknown() -> None:
    agent_kinds._plugins.cache_clear()
    assert agent_kinds.canonical_kind("notes") is None
    with pytest.raises(KeyError, match="unknown subagent class"):
        agent_kinds.load_kind("notes")
