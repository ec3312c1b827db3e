"""The home screen's t (tags of the selected or marked runs) and n (the selected run's note).

A mixin, so home.py stays about the runs and experiments; it uses the screen's table, _current()
and the app's store. The writes go through workbench/labels.py in a worker thread.
"""

from __future__ import annotations

from textual import work

from workbench import labels
from workbench.errors import WorkbenchError
from workbench.tui.messages import RunActionDone
from workbench.tui.screens.note import NoteScreen
from workbench.tui.screens.tags import TagsScreen


class LabelKeys:
    def action_tags(self) -> None:
        """t: tag the marked runs, or the selected one."""
        t = self.table
        rows = [r for r in t.rows_data if r.id in t.marked] or [r for r in [self._current()] if r]
        if not rows:
            return
        what = rows[0].id if len(rows) == 1 else f"{len(rows)} marked runs"
        tags = rows[0].tags if len(rows) == 1 else None

        def done(edits: list | None) -> None:
            if edits:
                self.labels_worker([r.id for r in rows], edits, None)

        self.app.push_screen(TagsScreen(what, tags), done)

    def action_note(self) -> None:
        """n: the selected run's note."""
        row = self._current()
        if row is None:
            return

        def done(text: str | None) -> None:
            if text is not None:
                self.labels_worker([row.id], [], text)

        self.app.push_screen(NoteScreen(row.id, row.note), done)

    @work(thread=True, group="actions")
    def labels_worker(self, run_ids: list[str], edits: list, note: str | None) -> None:
        """Write labels.json of each run (workbench/labels.py), off the UI thread: it takes a lock."""
        try:
            for run_id in run_ids:
                run = self.app.store.run(run_id)
                if note is not None:
                    labels.set_note(run.path, note)
                else:
                    labels.edit_tags(run.path, run.info().tags, edits)
        except (OSError, WorkbenchError) as e:
            self.post_message(RunActionDone(f"labels not saved: {e}", "error"))
            return
        n = len(run_ids)
        what = run_ids[0] if n == 1 else f"{n} runs"
        done = ("note cleared" if not note else "note saved") if note is not None else "tags saved"
        self.post_message(RunActionDone(f"{what}: {done}"))
