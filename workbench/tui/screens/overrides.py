"""Start an experiment with overrides typed in: key=value, as `--set`, separated by spaces or lines.
ctrl+s saves them as a new experiment file instead (it extends the selected one)."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from workbench.config import load_config, parse_override
from workbench.errors import WorkbenchError
from workbench.tui.new_experiment import save_new_experiment, suggest_name


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
    """Dismisses with the overrides to start with, or None (cancelled, or saved as a file: then
    `saved(path)` is called with the new file)."""

    BINDINGS = [Binding("escape", "cancel", "cancel"),
                Binding("ctrl+s", "save", "save the overrides as a new experiment file")]

    def __init__(self, experiment: str, verb: str = "start", path: Path | None = None,
                 saved: Callable[[Path], None] | None = None) -> None:
        super().__init__()
        self.experiment = experiment
        self.verb = verb  # "start", "queue", or "fork" (then `experiment` is the run forked)
        self.path = path  # the experiment file: what a saved file extends
        self.saved = saved

    def compose(self) -> ComposeResult:
        save = "   [b]ctrl+s[/b] save as new file" if self.path is not None else ""
        with Vertical(id="dialog"):
            yield Static(f"{self.verb.capitalize()} [b]{self.experiment}[/b] with overrides", id="question")
            yield Input(placeholder="train.lr=3e-4 train.max_steps=500", id="overrides")
            yield Input(placeholder="name of the new file (beside the selected one)", id="save-name")
            yield Static("", id="overrides-error")
            yield Static(f"[b]enter[/b] {self.verb}{save}   [b]esc[/b] cancel   key=value as --set, space-separated",
                         id="dialog-keys")

    def on_mount(self) -> None:
        self.query_one("#save-name").display = False
        self.query_one("#overrides", Input).focus()

    def _error(self, text: str) -> None:
        """The loader's message as plain text (it may hold '[train]'), in red."""
        self.query_one("#overrides-error", Static).update(Text(text, style="red"))

    def _parts(self) -> list[str] | None:
        try:
            return split_overrides(self.query_one("#overrides", Input).value)
        except WorkbenchError as e:
            self._error(str(e))
            return None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "save-name":
            self._save(event.value)
            return
        parts = self._parts()
        if parts is not None:
            self.dismiss(parts)

    def action_save(self) -> None:
        """Ask for the new file's name (a suggestion filled in); enter writes it."""
        if self.path is None:
            return
        parts = self._parts()
        if parts is None:
            return
        if not parts:
            self._error("type the overrides to save first, like train.lr=3e-4")
            return
        try:
            load_config(self.path, parts)  # an unknown key or a bad value is said before the name is asked
        except WorkbenchError as e:
            self._error(str(e))
            return
        box = self.query_one("#save-name", Input)
        box.value = box.value or suggest_name(self.path, parts)
        box.display = True
        box.focus()
        self._error("")
        self.query_one("#dialog-keys", Static).update(
            "[b]enter[/b] save the new file   [b]esc[/b] back to the overrides")

    def _save(self, name: str) -> None:
        parts = self._parts()
        if parts is None or self.path is None:
            return
        try:
            path = save_new_experiment(self.path, name, parts)
        except WorkbenchError as e:
            self._error(str(e))
            return
        self.notify(f"saved {path.name}: extends {self.path.name} with {' '.join(parts)}")
        if self.saved is not None:
            self.saved(path)
        self.dismiss(None)

    def action_cancel(self) -> None:
        box = self.query_one("#save-name", Input)
        if box.display:  # back from naming the file to the overrides
            box.display = False
            self._error("")
            self.query_one("#overrides", Input).focus()
            return
        self.dismiss(None)
