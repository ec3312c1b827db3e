"""Edit a run's note: one line, prefilled with the note it has; an empty line clears it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from workbench.labels import NOTE_MAX, note_problem


class NoteScreen(ModalScreen[str]):
    """Dismisses with the new note ("" clears it), or None on esc or when nothing was changed."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, run_id: str, note: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.note = note
        # one line is edited: a note written over several with `workbench note` is shown joined,
        # and saved so only when it is changed
        self.line = " ".join(note.split("\n"))

    def compose(self) -> ComposeResult:
        lines = self.note.count("\n") + 1
        with Vertical(id="dialog"):
            yield Static(f"Note on [b]{self.run_id}[/b]", id="question")
            yield Input(self.line, placeholder="what this run was for, what came of it",
                        max_length=NOTE_MAX, select_on_focus=False, id="note-edit")
            yield Static("", id="note-error", markup=False)
            yield Static("[b]enter[/b] save   [b]esc[/b] cancel   empty clears it"
                         + (f"   (changed, its {lines} lines become one)" if lines > 1 else ""), id="dialog-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text == self.line.strip():
            self.dismiss(None)
            return
        problem = note_problem(text)
        if problem:
            self.query_one("#note-error", Static).update(problem)
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
