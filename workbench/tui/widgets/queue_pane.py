"""The queue on the home screen: running entries with the GPUs they hold, then the waiting ones.

Hidden while the queue is empty. Keys act on the entry under the cursor.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding

from workbench.tui.messages import QueueRow, QueueSnapshot
from workbench.tui.widgets.row_table import RowTable


class QueuePane(RowTable):
    BINDINGS = [
        Binding("d,delete", "screen.queue_remove", "remove"),
        Binding("K,shift+up", "screen.queue_move(-1)", "earlier"),
        Binding("J,shift+down", "screen.queue_move(1)", "later"),
        Binding("p", "screen.queue_pause", "pause/resume"),
    ]
    COLUMNS = [("#", 3), ("entry", 6), ("experiment", 22), ("gpus", 4), ("state", 40)]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows_data: list[QueueRow] = []
        self._shown: list[tuple] = []
        self.paused = False

    def on_mount(self) -> None:
        for label, width in self.COLUMNS:
            self.add_column(label, key=label, width=width)

    def show(self, snap: QueueSnapshot) -> None:
        shown = [(r.entry_id, r.position, r.state, r.run_id, tuple(r.held)) for r in snap.rows]
        self.display = bool(snap.rows) or snap.paused is not None
        paused = f" · [b red]PAUSED[/]: {snap.paused}" if snap.paused else ""
        self.border_title = f"Queue ({sum(1 for r in snap.rows if r.state == 'waiting')} waiting){paused}"
        self.paused = snap.paused is not None
        self.border_subtitle = "p resumes" if self.paused else ""
        if shown == self._shown:
            return
        keep = self.current.entry_id if self.current else None
        self._shown, self.rows_data = shown, snap.rows
        self.clear()
        for r in snap.rows:
            if r.state == "running":
                where = ", ".join(f"GPU {i}" for i in r.held) or "cpu"
                state = Text.assemble(("● ", "green"), f"{r.run_id} on {where}")
            else:
                state = Text.assemble(("waiting", "dim"), f"  {' '.join(r.overrides)}".rstrip())
            self.add_row("" if r.position is None else str(r.position), str(r.entry_id), r.label,
                         str(r.gpus), state)
        self.cursor_to([r.entry_id for r in snap.rows], keep)
