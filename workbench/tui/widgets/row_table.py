"""A DataTable of one row object per line (runs, queue entries, trials), in the order shown."""

from __future__ import annotations

from textual.widgets import DataTable


class RowTable(DataTable):
    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)

    def shown_rows(self) -> list:
        """The row objects, in the order drawn."""
        return self.rows_data

    @property
    def current(self):
        """The row object under the cursor, or None."""
        rows = self.shown_rows()
        if not rows or self.cursor_row is None or not 0 <= self.cursor_row < len(rows):
            return None
        return rows[self.cursor_row]

    def cursor_to(self, keys: list, key) -> None:
        """After a redraw: the cursor back on the row of `key` (keys: each shown row's), if still there."""
        if key is not None and key in keys:
            self.move_cursor(row=keys.index(key))
