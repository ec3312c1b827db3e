"""The compare screen's runs table: a row per run, the settings that differ as columns, sortable
by any column (o: next column, O: reverse)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from workbench.formatting import fmt_loss, fmt_rate, fmt_value
from workbench.tui.colors import RunColors

FIXED = [("run", None), ("best val", "best_val_loss"), ("tok/s mean", "tokens_per_sec")]


def sort_key(value) -> tuple:
    """Missing values last; numbers as numbers, the rest as text."""
    if value is None:
        return (2, 0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value, "")
    return (1, 0, str(value))


class CompareRuns(DataTable):
    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.border_title = "Runs · settings that differ"
        self.sort_column = 1  # best val
        self.reverse = False
        self.headers: list[str] = []
        self.rows_data: list[tuple[str, list]] = []  # (run id, raw values per column)
        self.run_colors = RunColors()

    def show(self, run_ids: list[str], summaries: dict, configs: dict, diff_keys: list[str],
             colors: RunColors) -> None:
        self.headers = [h for h, _ in FIXED] + list(diff_keys)
        self.rows_data = []
        for rid in run_ids:
            s = summaries.get(rid, {})
            values = [rid, s.get("best_val_loss"), s.get("tokens_per_sec")]
            values += [configs.get(rid, {}).get(k) for k in diff_keys]
            self.rows_data.append((rid, values))
        self.run_colors = colors
        self.sort_column = min(self.sort_column, len(self.headers) - 1)
        self.redraw()

    def cycle_sort(self, reverse: bool = False) -> str:
        if reverse:
            self.reverse = not self.reverse
        elif self.headers:
            self.sort_column = (self.sort_column + 1) % len(self.headers)
            self.reverse = False
        self.redraw()
        return self.sort_name

    @property
    def sort_name(self) -> str:
        name = self.headers[self.sort_column] if self.headers else "-"
        return f"{name} {'↓' if self.reverse else '↑'}"

    @property
    def order(self) -> list[str]:
        rows = sorted(self.rows_data, key=lambda r: sort_key(r[1][self.sort_column]), reverse=self.reverse)
        return [rid for rid, _ in rows]

    def redraw(self) -> None:
        self.clear(columns=True)
        for i, h in enumerate(self.headers):
            self.add_column(f"{h} {'↓' if self.reverse else '↑'}" if i == self.sort_column else h, key=str(i))
        by_id = dict(self.rows_data)
        for rid in self.order:
            values = by_id[rid]
            cells = [Text(rid, style=f"bold {self.run_colors.rich(rid)}"), fmt_loss(values[1]), fmt_rate(values[2])]
            cells += [fmt_value(v) if v is not None else "-" for v in values[3:]]
            self.add_row(*cells, key=rid)
        self.border_subtitle = f"sort: {self.sort_name} (o/O)"
