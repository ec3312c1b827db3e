"""Start an experiment with overrides typed in: key=value, as `--set`, separated by spaces or lines."""

from __future__ import annotations

import shlex

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from workbench.config import parse_override
from workbench.errors import WorkbenchError


def split_overrides(text: str) -> list[str]:
    """'train.lr=3e-4 model.n_layer=2' (or one per line) -> ['train.lr=3e-4', 'model.n_layer=2']."""
    try:
        parts = shlex.split(text, posix=True)
    except ValueError as e:
        raise WorkbenchError(f"overrides: {e}") from None
    for p in parts:
        parse_override(p)  # raises with a helpful message
    return parts


class OverridesScreen(ModalScreen[list]):
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, experiment: str, verb: str = "start") -> None:
        super().__init__()
        self.experiment = experiment
        self.verb = verb  # "start", "queue", or "fork" (then `experiment` is the run forked)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"{self.verb.capitalize()} [b]{self.experiment}[/b] with overrides", id="question")
            yield Input(placeholder="train.lr=3e-4 train.max_steps=500", id="overrides")
            yield Static("", id="overrides-error")
            yield Static(f"[b]enter[/b] {self.verb}   [b]esc[/b] cancel   key=value as --set, space-separated",
                         id="dialog-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            parts = split_overrides(event.value)
        except WorkbenchError as e:
            self.query_one("#overrides-error", Static).update(f"[red]{e}[/red]")
            return
        self.dismiss(parts)

    def action_cancel(self) -> None:
        self.dismiss(None)
