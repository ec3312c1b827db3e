"""The compare screen's summary: one column per run, one row per figure (best val, tok/s, MFU, …).

Runs are columns so that a few runs fit in 80 columns; the settings that differ use the same layout.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from workbench.formatting import STATUS_COLOR, STATUS_SYMBOL, SUMMARY_ROWS, fmt_loss, fmt_steps
from workbench.tui.colors import RunColors


def runs_grid(run_ids: list[str], colors: RunColors) -> Table:
    """A table whose first column names a row and whose other columns are the runs, in their colours."""
    table = Table(box=None, padding=(0, 1, 0, 0), expand=False, header_style="bold")
    table.add_column("", style="bold", no_wrap=True)
    for rid in run_ids:
        table.add_column(Text(rid, style=f"bold {colors.rich(rid)}"), no_wrap=True,
                         overflow="ellipsis")
    return table


class SummaryTable(Static):
    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.border_title = "Summary"

    def show(self, run_ids: list[str], infos: dict, summaries: dict, colors: RunColors) -> None:
        table = runs_grid(run_ids, colors)
        s = [summaries.get(rid, {}) for rid in run_ids]
        inf = [infos.get(rid) for rid in run_ids]
        best = min((x.get("best_val_loss") for x in s if x.get("best_val_loss") is not None), default=None)
        statuses = [i.status if i else "?" for i in inf]
        table.add_row("status", *[Text(f"{STATUS_SYMBOL.get(st, '?')} {st}", style=STATUS_COLOR.get(st, ""))
                                  for st in statuses])
        table.add_row("step", *[fmt_steps(x.get("step"), x.get("max_steps")) for x in s])
        table.add_row("best val", *[Text(fmt_loss(x.get("best_val_loss")),
                                         style="bold green" if best is not None and x.get("best_val_loss") == best
                                         else "") for x in s])
        for label, field, fmt in SUMMARY_ROWS:
            if field == "best_val_loss":
                continue  # above, with the best in bold
            if field == "params":
                table.add_row(label, *[fmt(x.get(field) or (i.params if i else None)) for x, i in zip(s, inf)])
            else:
                table.add_row(label, *[fmt(x.get(field)) for x in s])
        self.update(table)
