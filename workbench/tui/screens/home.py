"""Home: the experiments, the runs, the host's GPUs. Start, stop, resume, delete, mark, compare."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Static
from textual.worker import get_current_worker

from workbench import launch
from workbench.errors import WorkbenchError
from workbench.tui import poller
from workbench.tui.messages import HostPolled, QueuePolled, RunActionDone, RunsPolled
from workbench.tui.queue_poller import queue_snapshot
from workbench.tui.screens.confirm import ConfirmScreen
from workbench.tui.screens.home_labels import LabelKeys
from workbench.tui.screens.overrides import OverridesScreen
from workbench.tui.widgets.experiment_tree import ExperimentTree
from workbench.tui.widgets.host_panel import HostPanel
from workbench.tui.widgets.queue_pane import QueuePane
from workbench.tui.widgets.runs_table import SORTS, RunsTable


class HomeScreen(LabelKeys, Screen):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [Binding("escape", "clear_filter", "clear filter", show=False),
                Binding("v", "open_sweep", "sweep", show=False)]

    def __init__(self) -> None:
        super().__init__()
        self.wake = threading.Event()

    def compose(self) -> ComposeResult:
        yield Static("", id="title")
        with Horizontal(id="home-body"):
            yield ExperimentTree(self.app.experiments_dir, id="experiments")
            with Vertical(id="runs-box"):
                yield Input(placeholder="filter runs: words in id, status, experiment, tags, note; tag:NAME",
                            id="filter")
                yield RunsTable(id="runs")
        yield QueuePane(id="queue")
        yield HostPanel(id="host")
        yield Footer(compact=True)

    @property
    def tree(self) -> ExperimentTree:
        return self.query_one(ExperimentTree)

    @property
    def table(self) -> RunsTable:
        return self.query_one(RunsTable)

    def on_mount(self) -> None:
        self.query_one("#filter").display = False
        self.query_one(QueuePane).display = False
        self.scheduler_worker()
        self.tree.border_title = f"Experiments · {self.app.experiments_dir.name}/"
        self.tree.focus()  # its files are read on screen resume, which follows the mount
        self._retitle()
        self.poll_loop()

    def on_screen_resume(self) -> None:
        self.tree.load_in_background()
        self.wake.set()

    def _retitle(self) -> None:
        t = self.table
        n = len(t.rows_data)
        marked = f" · {len(t.marked)} marked" if t.marked else ""
        flt = f" · filter '{t.filter_text}'" if t.filter_text else ""
        t.border_title = f"Runs ({n}) · sort: {t.sort_name}{flt}{marked}"
        t.border_subtitle = "no runs yet: select an experiment and press s" if n == 0 else ""
        gpu = self.query_one(HostPanel).summary()
        self.query_one("#title", Static).update(
            f"[b]workbench[/b]  {self.app.location}" + (f"  [dim]·[/dim]  {gpu}" if gpu else ""))

    # ------------------------------------------------------------ polling (worker thread)

    @work(thread=True, exclusive=True, group="home-poll")
    def poll_loop(self) -> None:
        worker = get_current_worker()
        runs = poller.RunsPoller(self.app.store)
        host_every, n = 4, 0
        while not worker.is_cancelled:
            if self.app.screen is self or n == 0:
                try:
                    self.post_message(RunsPolled(runs.poll()))
                except Exception as e:  # noqa: BLE001 - keep polling; say what broke
                    self.app.call_from_thread(self.notify, f"reading runs: {e}", severity="error")
                try:
                    self.post_message(QueuePolled(queue_snapshot(self.app.store)))
                except Exception as e:  # noqa: BLE001 - keep polling; say what broke
                    self.app.call_from_thread(self.notify, f"reading the queue: {e}", severity="error")
                if n % host_every == 0:
                    self.post_message(HostPolled(poller.host_snapshot()))
                n += 1
            self.wake.wait(self.app.poll_interval * 2)
            self.wake.clear()

    def on_runs_polled(self, message: RunsPolled) -> None:
        self.table.set_rows(message.rows, poller.clock())
        self._retitle()

    def on_queue_polled(self, message: QueuePolled) -> None:
        self.query_one(QueuePane).show(message.snap)

    def on_host_polled(self, message: HostPolled) -> None:
        self.query_one(HostPanel).show(message.host)
        self._retitle()

    def on_run_action_done(self, message: RunActionDone) -> None:
        self.notify(message.text, severity=message.severity)
        self.wake.set()

    # ------------------------------------------------------------ experiments

    def action_start(self, overrides: list | None = None) -> None:
        exp = self.tree.selected
        if exp is None:
            self.notify("select an experiment first", severity="warning")
            return
        if exp.error:
            self.notify(exp.error, severity="error", timeout=8)
            return
        self.start_worker(str(exp.path), list(overrides or []))

    def action_start_with(self) -> None:
        exp = self.tree.selected
        if exp is None or exp.error:
            self.action_start()
            return

        def done(parts: list | None) -> None:
            if parts is not None:
                self.action_start(parts)

        self.app.push_screen(OverridesScreen(exp.name, path=exp.path, saved=self.tree.show_new), done)

    @work(thread=True, group="actions")
    def start_worker(self, path: str, overrides: list[str]) -> None:
        try:
            run = launch.start_run(self.app.store, path, overrides)
        except WorkbenchError as e:
            self.app.call_from_thread(self.notify, str(e), title="cannot start", severity="error", timeout=10)
            return
        except OSError as e:
            self.app.call_from_thread(self.notify, f"starting failed: {e}", severity="error", timeout=10)
            return
        self.wake.set()
        self.app.call_from_thread(self.app.open_run, run.id)

    # ------------------------------------------------------------ the queue and sweeps

    def action_queue_add(self) -> None:
        exp = self.tree.selected
        if exp is None or exp.error:
            self.action_start()  # says what is wrong
            return

        def done(parts: list | None) -> None:
            if parts is not None:
                self.queue_worker(str(exp.path), parts)

        self.app.push_screen(OverridesScreen(exp.name, verb="queue", path=exp.path, saved=self.tree.show_new), done)

    @work(thread=True, group="actions")
    def queue_worker(self, path: str, overrides: list[str]) -> None:
        """Queue the experiment (a file with a [sweep] table starts the sweep), start the scheduler."""
        from workbench.config import load_config, read_toml
        from workbench.config_checks import check_data_files
        from workbench.queue import Queue
        from workbench.scheduler import ensure_scheduler

        store = self.app.store
        try:
            if "sweep" in read_toml(Path(path)):
                from workbench.sweep import create

                text = f"sweep {create(store, path, overrides).id} started"
            else:
                cfg = load_config(path, overrides)
                check_data_files(cfg, path)
                text = f"queued {cfg.experiment.name} as entry {Queue(store).add(cfg, path, overrides).id}"
            ensure_scheduler(store)
        except (WorkbenchError, OSError) as e:
            self.post_message(RunActionDone(f"cannot queue: {e}", "error"))
            return
        self.post_message(RunActionDone(text))

    @work(thread=True, group="actions")
    def scheduler_worker(self) -> None:
        """Queued work and no scheduler (the machine rebooted, say): start one."""
        from workbench.queue import Queue
        from workbench.scheduler import ensure_scheduler, scheduler_pid
        from workbench.sweep import active_sweeps

        queue = Queue(self.app.store)
        if scheduler_pid(self.app.store) is None and not queue.paused()[0] and (
                queue.entries(("waiting",)) or active_sweeps(self.app.store)):
            ensure_scheduler(self.app.store)

    def action_queue_remove(self) -> None:
        row = self.query_one(QueuePane).current
        if row is not None:
            self.queue_change_worker(row.entry_id, None)

    def action_queue_pause(self) -> None:
        self.queue_pause_worker(not self.query_one(QueuePane).paused)

    @work(thread=True, group="actions")
    def queue_pause_worker(self, pause: bool) -> None:
        from workbench.queue import Queue
        from workbench.scheduler import ensure_scheduler

        Queue(self.app.store).set_paused(pause, "paused by the user")
        if not pause:
            ensure_scheduler(self.app.store)
        self.post_message(RunActionDone("queue paused: running entries go on" if pause else "queue resumed"))

    def action_queue_move(self, offset: int) -> None:
        row = self.query_one(QueuePane).current
        if row is not None:
            self.queue_change_worker(row.entry_id, offset)

    @work(thread=True, group="actions")
    def queue_change_worker(self, entry_id: int, offset: int | None) -> None:
        from workbench.queue import Queue

        try:
            if offset is None:
                Queue(self.app.store).remove(entry_id)
            else:
                Queue(self.app.store).move(entry_id, offset)
        except WorkbenchError as e:
            self.post_message(RunActionDone(str(e), "warning"))
            return
        if offset is None:
            self.post_message(RunActionDone(f"removed queue entry {entry_id}"))
        self.wake.set()

    def action_open_sweep(self) -> None:
        from workbench.tui.screens.sweep import SweepScreen

        self.app.push_screen(SweepScreen(None))

    # ------------------------------------------------------------ runs

    def _current(self):
        row = self.table.current
        if row is None:
            self.notify("no run selected", severity="warning")
        return row

    def action_open_run(self) -> None:
        row = self._current()
        if row is not None and self._readable(row):
            self.app.open_run(row.id)

    def _readable(self, row) -> bool:
        """A damaged run has nothing to show but why: say it instead of opening it."""
        if row.status == "damaged":
            self.notify(f"{row.id} is damaged: {row.reason}", severity="warning")
        return row.status != "damaged"

    def action_mark(self) -> None:
        row = self._current()
        if row is None:
            return
        self.table.marked ^= {row.id}
        self.table.redraw()
        if self.table.cursor_row < self.table.row_count - 1:
            self.table.move_cursor(row=self.table.cursor_row + 1)
        self._retitle()
        n = len(self.table.marked)
        then = " · c compares" if n >= 2 else ""
        self.notify(f"{'marked' if row.id in self.table.marked else 'unmarked'} {row.id} · {n} marked{then} · "
                    "cursor moved down", timeout=3)

    def action_compare(self) -> None:
        t = self.table
        rows = [r for r in t.rows_data if r.id in t.marked]
        if not all(self._readable(r) for r in rows):
            return
        ids = [r.id for r in rows]
        if len(ids) < 2:
            self.notify("mark two or more runs with space, then press c", severity="warning")
            return
        self.app.open_compare(ids)

    def action_stop(self) -> None:
        row = self._current()
        if row is None:
            return
        if row.status != "running":
            self.notify(f"{row.id} is not running ({row.status})", severity="warning")
            return
        self.app.confirm_stop(row.id)

    def action_resume(self) -> None:
        row = self._current()
        if row is not None:
            self.app.resume(row.id)

    def action_delete(self) -> None:
        row = self._current()
        if row is None:
            return
        if row.status == "running":
            self.notify(f"{row.id} is running; stop it first (x)", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.delete_worker(row.id)

        self.app.push_screen(ConfirmScreen(f"Delete [b]{row.id}[/b] with its checkpoints and metrics?"), answer)

    @work(thread=True, group="actions")
    def delete_worker(self, run_id: str) -> None:
        try:
            run = self.app.store.run(run_id)
            if run.info().status == "running":
                raise WorkbenchError(f"{run_id} is running; stop it first")
            shutil.rmtree(run.path)
        except (OSError, WorkbenchError) as e:
            self.post_message(RunActionDone(f"delete failed: {e}", "error"))
            return
        self.table.marked.discard(run_id)
        self.post_message(RunActionDone(f"deleted {run_id}"))

    # ------------------------------------------------------------ fork

    def action_fork(self) -> None:
        row = self._current()
        if row is None or not self._readable(row):
            return

        def done(parts: list | None) -> None:
            if parts is not None:
                self.fork_worker(row.id, parts)

        self.app.push_screen(OverridesScreen(row.id, verb="fork"), done)

    @work(thread=True, group="actions")
    def fork_worker(self, parent_id: str, overrides: list[str]) -> None:
        """A new run from the parent's last checkpoint, trained in the background (workbench/fork.py)."""
        from workbench.fork import start_fork

        try:
            child = start_fork(self.app.store, parent_id, "last", overrides)
        except (WorkbenchError, OSError) as e:
            self.app.call_from_thread(self.notify, str(e), title="cannot fork", severity="error", timeout=10)
            return
        self.wake.set()
        self.app.call_from_thread(self.app.open_run, child.id)

    # ------------------------------------------------------------ filter and sort

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.value = self.table.filter_text
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.table.filter_text = event.value
            self.table.redraw()
            self._retitle()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            event.input.display = bool(event.value)
            self.table.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            self.table.filter_text = ""
            self.table.redraw()
            self.table.focus()
            self._retitle()

    def action_sort(self) -> None:
        self.table.sort_index = (self.table.sort_index + 1) % len(SORTS)
        self.table.redraw(force=True)
        self._retitle()
