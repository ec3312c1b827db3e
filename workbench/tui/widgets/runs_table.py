"""The runs: status in colour, kind (when not all are training runs), step/max, best val, tok/s,
started, duration, tags (where the width allows). The run ids give way (cut in the middle) so the other columns always fit whole."""

from __future__ import annotations

import re
import time

from rich.text import Text
from textual.binding import Binding

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
from workbench.tui.widgets.row_table import RowTable

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


class RunsTable(RowTable):
    BINDINGS = [
        Binding("enter", "screen.open_run", "open"),
        Binding("space", "screen.mark", "mark"),
        Binding("c", "screen.compare", "compare"),
        Binding("x", "screen.stop", "stop"),
        Binding("r", "screen.resume", "resume"),
        Binding("d", "screen.delete", "delete", show=False),  # in `?`; the footer keeps to 80 columns
        Binding("slash", "screen.filter", "filter", tooltip="words in id, status, experiment, tags, note; tag:NAME"),
        Binding("o", "screen.sort", "sort", show=False),
        Binding("f", "screen.fork", "fork", show=False,  # in `?`; the footer keeps to 80 columns
                tooltip="a new run from its last checkpoint, with overrides (key=value)"),
        Binding("t", "screen.tags", "tags", show=False, tooltip="of the marked runs, or this one: +name -name"),
        Binding("n", "screen.note", "note", show=False, tooltip="the run's note"),
        # DataTable's home/end scroll sideways; in a table of rows they mean the first/last run
        Binding("home", "scroll_top", "first run", show=False),
        Binding("end", "scroll_bottom", "last run", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows_data: list[RunRow] = []
        self.shown: list[RunRow] = []
        self.marked: set[str] = set()
        self.filter_text = ""
        self.sort_index = 0
        self.now = time.time()
        self._last_key: tuple | None = None
        self._widths: list[int] = []
        self._columns: list[tuple[str, str]] = []

    COLUMNS = [(" run", "run"), ("status", "status"), ("kind", "kind"), ("step", "step"), ("best val", "val"),
               ("tok/s", "tok"), ("started", "started"), ("took", "dur")]
    KIND_LABEL = {"trainer": "", "profile": "prof", "script": "script", "command": "cmd", "fork": "fork"}  # RunRow.kind
    MIN_RUN_WIDTH = 16  # narrower than this the table scrolls sideways instead

    def on_mount(self) -> None:
        self._set_columns(self.COLUMNS, [len(label) for label, _ in self.COLUMNS])
        self.redraw(force=True)  # rows may have arrived before the columns existed

    def on_resize(self) -> None:
        self.redraw(force=True)  # the run ids' room changed

    def _set_columns(self, columns: list[tuple[str, str]], widths: list[int]) -> None:
        """Explicit widths: DataTable's auto widths did not always follow rows added after clear()."""
        self.clear(columns=True)
        for (label, key), width in zip(columns, widths):
            self.add_column(label, key=key, width=width)
        self._widths = widths
        self._columns = columns

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
        columns = self.COLUMNS if any(r.kind != "trainer" for r in rows) else [
            c for c in self.COLUMNS if c[1] != "kind"]
        cells = [self._cells(r, columns) for r in rows]
        width = self.scrollable_content_region.width
        state = (tuple(map(str, cells)), tuple(sorted(self.marked)), len(columns), width)
        if state == self._last_key and not force:
            self.shown = rows  # the same rows in the same order, with what the cells leave out (a note)
            return
        self._last_key = state
        current = self.current_id
        columns, cells, widths = self._fit(columns, cells, width)
        columns, widths = self._add_tags(rows, columns, cells, widths, width)
        if widths != self._widths or columns != self._columns:
            self._set_columns(columns, widths)
        else:
            self.clear()
        for r, row in zip(rows, cells):
            self.add_row(*row, key=r.id)
        self.shown = rows
        self.cursor_to([r.id for r in rows], current)

    def _fit(self, columns: list, cells: list[list], width: int) -> tuple[list, list[list], list[int]]:
        """Columns, cells and widths that fit `width`: first without 'started' (the run id holds the
        start time), then with the run ids cut in the middle; never a number cut at the edge."""
        widths = [max([len(label)] + [len(str(row[i])) for row in cells]) for i, (label, _) in enumerate(columns)]
        if not width:
            return columns, cells, widths  # not laid out yet: the resize redraws
        if sum(w + 2 for w in widths) > width and ("started", "started") in columns:
            i = columns.index(("started", "started"))
            columns = columns[:i] + columns[i + 1:]
            cells = [row[:i] + row[i + 1:] for row in cells]
            widths = widths[:i] + widths[i + 1:]
        room = max(self.MIN_RUN_WIDTH, width - sum(w + 2 for w in widths[1:]) - 2)  # 1 of padding each side
        if widths[0] > room:
            for row in cells:
                row[0] = cut_middle(row[0], room)
            widths[0] = room
        return columns, cells, widths

    def _add_tags(self, rows: list[RunRow], columns: list, cells: list[list], widths: list[int],
                  width: int) -> tuple[list, list[int]]:
        """A tags column after the others (each padded by one cell either side) if a shown run has
        tags and at least 8 columns are left; the cells get their tags in place."""
        longest = max((len(",".join(r.tags)) for r in rows), default=0)
        room = width - sum(w + 2 for w in widths) - 2
        if not longest or room < 8:
            return columns, widths
        tags_width = min(room, longest)
        for r, row in zip(rows, cells):
            row.append(Text(fmt_tags(r.tags, tags_width), style="dim"))
        return columns + [("tags", "tags")], widths + [tags_width]

    def _cells(self, r: RunRow, columns: list[tuple[str, str]]) -> list:
        color = STATUS_COLOR.get(r.status, "white")
        marked = r.id in self.marked
        run = Text("*", style="bold magenta") if marked else Text(" ")
        run.append(r.id, style="bold magenta" if marked else "bold" if r.status == "running" else "")
        status = Text(f"{STATUS_SYMBOL.get(r.status, '?')} {r.status}", style=color)
        val = Text(fmt_loss(r.best_val), style="magenta" if r.best_val != r.best_val else "")
        # a profile's steps are the profiled few, not a training run cut short of max_steps
        steps = fmt_steps(r.step, None if r.kind == "profile" else r.max_steps)
        by_key = {"run": run, "status": status, "kind": Text(self.KIND_LABEL.get(r.kind, r.kind), style="cyan"),
                  "step": steps, "val": val, "tok": fmt_rate(r.tok_s), "started": fmt_started(r.started, self.now),
                  "dur": fmt_duration(r.duration, compact=True)}
        return [by_key[key] for _, key in columns]

    def shown_rows(self) -> list[RunRow]:
        return self.shown  # rows_data filtered and sorted

    @property
    def current_id(self) -> str | None:
        row = self.current
        return row.id if row is not None else None


def cut_middle(text: Text, width: int) -> Text:
    """A run id (`<experiment>-<yyyymmdd>-<hhmmss>[-n]`) cut to `width`: first its date goes, then the
    experiment name's end; the time of day stays, so cut ids still tell runs apart."""
    if len(text) <= width:
        return text
    plain = text.plain
    m = re.search(r"-\d{8}-(\d{6}(-\d+)?)$", plain)
    tail = m.group(1) if m else plain[-6:]
    head = plain[: m.start()] if m else plain[:-6]
    keep = max(0, width - 1 - len(tail))
    if keep == 0:
        return text[: width - 1] + Text("…", style="dim")
    return Text.assemble(text[:min(keep, len(head))], ("…", "dim"), text[len(plain) - len(tail):])


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
