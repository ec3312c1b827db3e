"""Edit the tags of the selected or marked runs: '+name -name' (a bare name adds), as `workbench tag`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from workbench.errors import WorkbenchError
from workbench.labels import parse_edits


class TagsScreen(ModalScreen[list]):
    """Dismisses with the edits [(name, add?)], or None on esc or an empty line."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, what: str, tags: list[str] | None) -> None:
        super().__init__()
        self.what = what  # "run-id" or "3 marked runs"
        self.tags = tags  # the current tags of one run, shown above the line; None for several runs

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Tags of [b]{self.what}[/b]", id="question")
            now = "each run keeps the tags these edits do not name" if self.tags is None else \
                "now: " + (" ".join(self.tags) or "no tags")
            yield Static(now, id="tags-now", markup=False)
            yield Input(placeholder="+baseline -wip", id="tags-edit")
            yield Static("", id="tags-error", markup=False)
            yield Static("[b]enter[/b] apply   [b]esc[/b] cancel   +name adds, -name takes off",
                         id="dialog-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        words = event.value.split()
        if not words:
            self.dismiss(None)
            return
        try:
            edits = parse_edits(words)
        except WorkbenchError as e:
            self.query_one("#tags-error", Static).update(str(e))
            return
        self.dismiss(edits)

    def action_cancel(self) -> None:
        self.dismiss(None)
