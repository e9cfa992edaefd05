"""`SimulatedCallModal`: place a rehearsal call against a simulated lead."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

DEFAULT_PHONE = "+14155550123"
DEFAULT_SCENARIO = "pricing_then_demo"


@dataclass(frozen=True)
class CallDraft:
    phone: str
    scenario: str | None
    name: str | None


class SimulatedCallModal(ModalScreen[CallDraft | None]):
    """Defaults place the demo call, so `n` then Enter is enough to see the console work."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, scenarios: list[str], phone: str = DEFAULT_PHONE) -> None:
        super().__init__()
        self.scenarios = scenarios or [DEFAULT_SCENARIO]
        self.phone = phone

    def compose(self) -> ComposeResult:
        default = DEFAULT_SCENARIO if DEFAULT_SCENARIO in self.scenarios else self.scenarios[0]
        with Vertical(id="dialog", classes="modal-dialog"):
            yield Label("Place a simulated call", classes="modal-title")
            with Horizontal(classes="modal-row"):
                yield Label("Phone", classes="modal-label")
                yield Input(self.phone, id="call-phone")
            with Horizontal(classes="modal-row"):
                yield Label("Lead name", classes="modal-label")
                yield Input(placeholder="optional", id="call-name")
            with Horizontal(classes="modal-row"):
                yield Label("Scenario", classes="modal-label")
                yield Select([(s, s) for s in self.scenarios], value=default, allow_blank=False,
                             id="call-scenario")
            yield Label("", id="call-error", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Call", variant="primary", id="place")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#call-phone", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#place")
    def place(self) -> None:
        phone = self.query_one("#call-phone", Input).value.strip()
        if not phone:
            self.query_one("#call-error", Label).update("A phone number is needed (E.164).")
            return
        scenario = self.query_one("#call-scenario", Select).value
        name = self.query_one("#call-name", Input).value.strip() or None
        self.dismiss(CallDraft(phone, str(scenario) if isinstance(scenario, str) else None, name))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
