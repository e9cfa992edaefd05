"""`FeedbackModal`: write feedback for one call; dismisses with (text, importance) or None."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label


class FeedbackModal(ModalScreen[tuple[str, int] | None]):
    """Enter in either field saves; Escape cancels. Importance is 1 (note) to 5 (critical)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, call_id: str) -> None:
        super().__init__()
        self.call_id = call_id

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="modal-dialog"):
            yield Label(f"Feedback for {self.call_id}", classes="modal-title")
            yield Input(placeholder="What should the agent do differently?", id="feedback-text")
            with Horizontal(classes="modal-row"):
                yield Label("Importance (1-5)", classes="modal-label")
                yield Input("1", id="feedback-importance", restrict=r"[1-5]?", max_length=1)
            yield Label("", id="feedback-error", classes="modal-error")
            with Horizontal(classes="modal-buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#feedback-text", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def save(self) -> None:
        text = self.query_one("#feedback-text", Input).value.strip()
        importance = self.query_one("#feedback-importance", Input).value or "1"
        if not text:
            self.query_one("#feedback-error", Label).update("Write some feedback first.")
            return
        self.dismiss((text, int(importance)))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
