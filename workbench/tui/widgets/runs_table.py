"""The runs: status in colour, experiment, step/max, best val, tok/s, started, duration."""

from __future__ import annotations

import time

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from workbench.formatting import (
    STATUS_COLOR,
    STATUS_SYMBOL,
    fmt_duration,
    fmt_loss,
    fmt_rate,
    fmt_steps,
    fmt_tags,
)
from workbench.tui.messages import RunRow

SORTS = [  # (name, key, reverse)
    ("started", lambda r: (r.started or 0, r.id), True),
    ("status", lambda r: (r.status != "running", r.status, -(r.started or 0)), False),
    ("best val", lambda r: (r.best_val is None, r.best_val or 0.0), False),
    ("tok/s", lambda r: (r.tok_s or 0.0), True),
    ("experiment", lambda r: (r.experiment, -(r.started or 0)), False),
]


def fmt_started(ts: float | None, now: float) -> str:
    """Deterministic given `now`: time of day within 20 h, else the date (`workbench show` has both)."""
    if ts is None:
        return "-"
    if now - ts < 20 * 3600:
        return time.strftime("%H:%M", time.localtime(ts))
    return time.strftime("%b %d", time.localtime(ts))


class RunsTable(DataTable):
    BINDINGS = [
        Binding("enter", "screen.open_run", "open"),
        Binding("space", "screen.mark", "mark"),
        Binding("c", "screen.compare", "compare"),
        Binding("x", "screen.stop", "stop"),
        Binding("r", "screen.resume", "resume"),
        Binding("f", "screen.fork", "fork", show=False),  # in `?`; the footer keeps to 80 columns
        Binding("d", "screen.delete", "delete", show=False),  # in `?`; the footer keeps to 80 columns
        Binding("slash", "screen.filter", "filter"),
        Binding("o", "screen.sort", "sort", show=False),
        Binding("t", "screen.tags", "tags", show=False),
        Binding("n", "screen.note", "note", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.rows_data: list[RunRow] = []
        self.shown: list[RunRow] = []
        self.marked: set[str] = set()
        self.filter_text = ""
        self.sort_index = 0
        self.now = time.time()
        self._last_key: tuple | None = None
        self._widths: list[int] = []
        self.tags_width = 0  # the tags column's width; 0: no room (or no tags), no column

    COLUMNS = [(" run", "run"), ("status", "status"), ("step", "step"), ("best val", "val"),
               ("tok/s", "tok"), ("started", "started"), ("took", "dur")]

    def on_mount(self) -> None:
        self._set_columns([len(label) for label, _ in self.COLUMNS])
        self.redraw(force=True)  # rows may have arrived before the columns existed

    def _columns(self) -> list[tuple[str, str]]:
        return self.COLUMNS + ([("tags", "tags")] if self.tags_width else [])

    def _set_columns(self, widths: list[int]) -> None:
        """Explicit widths: DataTable's auto widths did not always follow rows added after clear()."""
        self.clear(columns=True)
        for (label, key), width in zip(self._columns(), widths):
            self.add_column(label, key=key, width=width)
        self._widths = widths

    @property
    def sort_name(self) -> str:
        return SORTS[self.sort_index][0]

    def set_rows(self, rows: list[RunRow], now: float) -> None:
        self.rows_data, self.now = rows, now
        self.redraw()

    def redraw(self, force: bool = False) -> None:
        if not self.columns:
            return  # not mounted yet: on_mount draws
        rows = [r for r in self.rows_data if matches(r, self.filter_text)]
        _, key, reverse = SORTS[self.sort_index]
        rows = sorted(rows, key=key, reverse=reverse)
        cells = [self._cells(r) for r in rows]
        self.tags_width = self._tags_room(cells, rows)
        if self.tags_width:
            for r, row in zip(rows, cells):
                row.append(Text(fmt_tags(r.tags, self.tags_width), style="dim"))
        state = (tuple(map(str, cells)), tuple(sorted(self.marked)))
        if state == self._last_key and not force:
            self.shown = rows  # the same rows in the same order, with what the cells leave out (a note)
            return
        self._last_key = state
        current = self.current_id
        widths = [max([len(label)] + [len(str(row[i])) for row in cells])
                  for i, (label, _) in enumerate(self._columns())]
        if widths != self._widths:
            self._set_columns(widths)
        else:
            self.clear()
        for r, row in zip(rows, cells):
            self.add_row(*row, key=r.id)
        self.shown = rows
        if current is not None:
            for i, r in enumerate(rows):
                if r.id == current:
                    self.move_cursor(row=i, animate=False)
                    break

    def _tags_room(self, cells: list[list], rows: list[RunRow]) -> int:
        """Width for a tags column after the others (each padded by one cell either side), if any
        shown run has tags and at least 8 columns are left; else 0."""
        longest = max((len(",".join(r.tags)) for r in rows), default=0)
        if not longest:
            return 0
        used = sum(max([len(label)] + [len(str(row[i])) for row in cells]) + 2
                   for i, (label, _) in enumerate(self.COLUMNS))
        room = self.scrollable_content_region.width - used - 2
        return min(room, longest) if room >= 8 else 0

    def on_resize(self) -> None:
        self.redraw(force=True)  # the tags column comes and goes with the width

    def _cells(self, r: RunRow) -> list:
        color = STATUS_COLOR.get(r.status, "white")
        run = Text("*", style="bold magenta") if r.id in self.marked else Text(" ")
        run.append(r.id, style="bold" if r.status == "running" else "")
        status = Text(f"{STATUS_SYMBOL.get(r.status, '?')} {r.status}", style=color)
        val = Text(fmt_loss(r.best_val), style="magenta" if r.best_val != r.best_val else "")
        return [run, status,
                fmt_steps(r.step, r.max_steps), val, fmt_rate(r.tok_s), fmt_started(r.started, self.now),
                fmt_duration(r.duration)]

    @property
    def current_id(self) -> str | None:
        if not self.shown or self.cursor_row is None or not (0 <= self.cursor_row < len(self.shown)):
            return None
        return self.shown[self.cursor_row].id

    @property
    def current(self) -> RunRow | None:
        rid = self.current_id
        return next((r for r in self.shown if r.id == rid), None)


def matches(row: RunRow, text: str) -> bool:
    """The filter box: every word in the id, status, experiment, tags or note; `tag:NAME` needs
    that tag. Case does not matter."""
    hay = f"{row.id} {row.status} {row.experiment} {' '.join(row.tags)} {row.note}".lower()
    tags = {t.lower() for t in row.tags}
    for word in text.lower().split():
        if word.startswith("tag:") and word != "tag:":
            if word[4:] not in tags:
                return False
        elif word not in hay:
            return False
    return True
