"""A sweep's trials: one row each, only the swept keys as columns, status and metric; best marked."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding

from workbench.formatting import STATUS_COLOR, STATUS_SYMBOL, fmt_loss
from workbench.tui.widgets.row_table import RowTable

SORTS = ["trial", "metric", "status"]


def short_names(keys: list[str]) -> list[str]:
    """'train.lr' -> 'lr' unless two swept keys would then read the same."""
    tails = [k.split(".", 1)[1] for k in keys]
    return [t if tails.count(t) == 1 else k for k, t in zip(keys, tails)]


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


class TrialsTable(RowTable):
    BINDINGS = [
        Binding("enter", "screen.open_trial", "open"),
        Binding("space", "screen.mark", "mark"),
        Binding("c", "screen.compare", "compare"),
        Binding("o", "screen.sort", "sort"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.keys: list[str] = []
        self.metric = ""
        self.goal = "minimize"
        self.rows_data: list = []  # workbench.sweep.TrialRow, in shown order
        self.marked: set[int] = set()
        self.sort_index = 0

    @property
    def sort_name(self) -> str:
        return SORTS[self.sort_index]

    def set_trials(self, keys: list[str], metric: str, goal: str, rows: list) -> None:
        if keys != self.keys or metric != self.metric:
            self.keys, self.metric, self.goal = keys, metric, goal
            self.clear(columns=True)
            self.add_column(" ", key="mark", width=2)
            self.add_column("trial", key="trial", width=5)
            for k, name in zip(keys, short_names(keys)):
                self.add_column(name, key=k, width=max(8, len(name)))
            self.add_column("status", key="status", width=10)
            self.add_column(metric, key="metric", width=max(8, len(metric)))
        self.rows_data = self._sorted(rows)
        self.redraw()

    def _sorted(self, rows: list) -> list:
        sign = 1 if self.goal == "minimize" else -1
        if self.sort_name == "metric":
            return sorted(rows, key=lambda r: (r.value is None, sign * (r.value or 0.0), r.number))
        if self.sort_name == "status":
            return sorted(rows, key=lambda r: (r.status, r.number))
        return sorted(rows, key=lambda r: r.number)

    def redraw(self) -> None:
        keep = self.current.number if self.current else None
        self.rows_data = self._sorted(self.rows_data)
        self.clear()
        for r in self.rows_data:
            mark = Text("★", "bold yellow") if r.best else Text("✓" if r.number in self.marked else "")
            status = Text(f"{STATUS_SYMBOL.get(r.status, '·')} {r.status}", STATUS_COLOR.get(r.status, ""))
            self.add_row(mark, str(r.number), *(_fmt(r.params.get(k, "")) for k in self.keys), status,
                         fmt_loss(r.value), key=str(r.number))
        self.cursor_to([r.number for r in self.rows_data], keep)
