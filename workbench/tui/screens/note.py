"""Edit a run's note: one line, prefilled with the note it has; an empty line clears it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from workbench.labels import NOTE_MAX, note_problem


class NoteScreen(ModalScreen[str]):
    """Dismisses with the new note ("" clears it), or None on esc."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, run_id: str, note: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.note = note

    def compose(self) -> ComposeResult:
        lines = self.note.count("\n") + 1
        with Vertical(id="dialog"):
            yield Static(f"Note on [b]{self.run_id}[/b]", id="question")
            # the line edits one line: a note written with `workbench note` over several is joined
            yield Input(" ".join(self.note.split("\n")), placeholder="what this run was for, what came of it",
                        max_length=NOTE_MAX, select_on_focus=False, id="note-edit")
            yield Static("", id="note-error", markup=False)
            yield Static("[b]enter[/b] save   [b]esc[/b] cancel   empty clears it"
                         + (f"   (its {lines} lines become one)" if lines > 1 else ""), id="dialog-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        problem = note_problem(text)
        if problem:
            self.query_one("#note-error", Static).update(problem)
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
