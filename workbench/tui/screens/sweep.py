"""A sweep: its trials, sortable, the best marked; open a trial, compare trials, stop the sweep."""

from __future__ import annotations

import threading

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from workbench.errors import WorkbenchError
from workbench.tui.messages import RunActionDone, SweepPolled
from workbench.tui.queue_poller import sweep_snapshot
from workbench.tui.screens.confirm import ConfirmScreen
from workbench.tui.widgets.trials_table import SORTS, TrialsTable


class SweepScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "back"),
        Binding("x", "stop_sweep", "stop sweep"),
        Binding("left_square_bracket", "other(1)", "older sweep", show=False),
        Binding("right_square_bracket", "other(-1)", "newer sweep", show=False),
    ]

    def __init__(self, sweep_id: str | None) -> None:
        super().__init__()
        self.sweep_id = sweep_id  # None: the newest, until the first poll names it
        self.info = None
        self.wake = threading.Event()

    def compose(self) -> ComposeResult:
        yield Static("", id="sweep-title")
        yield TrialsTable(id="trials")
        yield Footer(compact=True)

    @property
    def table(self) -> TrialsTable:
        return self.query_one(TrialsTable)

    def on_mount(self) -> None:
        self.table.focus()
        self.poll_loop()

    @work(thread=True, exclusive=True, group="sweep-poll")
    def poll_loop(self) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled:
            try:
                info, rows = sweep_snapshot(self.app.store, self.sweep_id)
                self.post_message(SweepPolled(info, rows))
            except WorkbenchError as e:
                self.post_message(SweepPolled(None, [], str(e)))
            self.wake.wait(self.app.poll_interval * 4)  # reading the journal costs more than a run
            self.wake.clear()

    def on_sweep_polled(self, message: SweepPolled) -> None:
        if message.error:
            self.query_one("#sweep-title", Static).update(f"[red]{message.error}[/red]")
            return
        info, spec = message.info, message.info.sweep_spec()
        self.info, self.sweep_id = info, info.id
        rows = message.rows
        best = next((r for r in rows if r.best), None)
        best_text = f" · best trial {best.number}" if best else ""
        self.query_one("#sweep-title", Static).update(
            f"[b]sweep {info.id}[/b]  {info.state}  {spec.method}  {len(rows)}/{spec.total_trials()} trials  "
            f"{spec.goal} {spec.metric}{best_text}")
        self.table.set_trials(list(spec.space), spec.metric, spec.goal, rows)
        self.table.border_title = f"Trials · sort: {self.table.sort_name}" + (
            f" · {len(self.table.marked)} marked" if self.table.marked else "")

    # ------------------------------------------------------------ actions

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_open_trial(self) -> None:
        row = self.table.current
        if row is None or not row.run_id:
            self.notify("this trial has no run yet", severity="warning")
            return
        self.app.open_run(row.run_id)

    def action_mark(self) -> None:
        row = self.table.current
        if row is None or not row.run_id:
            return
        self.table.marked ^= {row.number}
        self.table.redraw()
        if self.table.cursor_row < self.table.row_count - 1:
            self.table.move_cursor(row=self.table.cursor_row + 1)

    def action_compare(self) -> None:
        ids = [r.run_id for r in self.table.rows_data if r.number in self.table.marked and r.run_id]
        if len(ids) < 2:
            self.notify("mark two or more trials with space, then press c", severity="warning")
            return
        self.app.open_compare(ids)

    def action_sort(self) -> None:
        self.table.sort_index = (self.table.sort_index + 1) % len(SORTS)
        self.table.redraw()
        self.table.border_title = f"Trials · sort: {self.table.sort_name}"

    def action_other(self, step: int) -> None:
        from workbench.sweep import list_sweeps

        ids = [s.id for s in list_sweeps(self.app.store)]
        if self.sweep_id not in ids:
            return
        i = ids.index(self.sweep_id) + step
        if 0 <= i < len(ids):
            self.app.pop_screen()
            self.app.push_screen(SweepScreen(ids[i]))

    def action_stop_sweep(self) -> None:
        if self.info is None or self.info.state != "active":
            self.notify("this sweep is not active", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.notify(f"stopping sweep {self.sweep_id}: its running trials save a checkpoint first…")
                self.stop_worker(self.sweep_id)

        self.app.push_screen(ConfirmScreen(f"Stop sweep [b]{self.sweep_id}[/b]? Its waiting trials leave the "
                                           "queue and its running trials stop."), answer)

    @work(thread=True, group="actions")
    def stop_worker(self, sweep_id: str) -> None:
        from workbench.sweep import stop

        try:
            stopped = stop(self.app.store, sweep_id)
            msg = RunActionDone(f"sweep {sweep_id} stopped" + (f" ({len(stopped)} runs)" if stopped else ""))
        except WorkbenchError as e:
            msg = RunActionDone(str(e), "error")
        self.post_message(msg)

    def on_run_action_done(self, message: RunActionDone) -> None:
        self.notify(message.text, severity=message.severity)
        self.wake.set()
