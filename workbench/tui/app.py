"""The workbench TUI: `workbench` with no arguments.

The app only reads the run store (in worker threads) and starts/stops trainers
through workbench.launch; no training happens in this process, and quitting
leaves the runs going. Nothing here imports torch.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding

from workbench import launch
from workbench.errors import WorkbenchError
from workbench.store import RunStore
from workbench.tui.colors import RunColors
from workbench.tui.messages import RunActionDone
from workbench.tui.screens.confirm import ConfirmScreen
from workbench.tui.screens.help import HelpScreen
from workbench.tui.screens.home import HomeScreen


def pretty_path(path: Path) -> str:
    home = str(Path.home())
    s = str(path)
    return "~" + s[len(home):] if home != "/" and s.startswith(home) else s


class WorkbenchApp(App):
    CSS_PATH = "workbench.tcss"
    TITLE = "workbench"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("q", "quit", "quit"),
        Binding("question_mark", "help", "help"),
        Binding("w", "save_svg", "save as SVG", show=False),
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),  # as q: training goes on
    ]

    def __init__(self, runs_dir: str | Path = "runs", experiments_dir: str | Path = "experiments",
                 location: str | None = None, poll_interval: float = 0.5) -> None:
        super().__init__()
        self.store = RunStore(runs_dir)
        self.experiments_dir = Path(experiments_dir)
        self.location = location if location is not None else pretty_path(Path.cwd())
        self.poll_interval = poll_interval
        self.run_colors = RunColors()  # one colour per run, in every pane and screen
        self.svg_dir = Path.cwd()  # where `w` saves the screen

    def on_mount(self) -> None:
        self.push_screen(HomeScreen())

    # ------------------------------------------------------------ navigation

    # the other screens are imported when first opened (charts, plotext, checkpoints): not before
    # the home screen's first frame

    def open_run(self, run_id: str) -> None:
        from workbench.tui.screens.dashboard import DashboardScreen

        if isinstance(self.screen, DashboardScreen) and self.screen.run_id == run_id:
            return
        if isinstance(self.screen, DashboardScreen):
            self.pop_screen()
        self.push_screen(DashboardScreen(run_id))

    def open_inspect(self, run_id: str) -> None:
        from workbench.tui.screens.inspect import InspectScreen

        self.push_screen(InspectScreen(run_id))

    def open_compare(self, run_ids: list[str]) -> None:
        from workbench.tui.screens.compare import CompareScreen

        self.push_screen(CompareScreen(run_ids))

    def action_save_svg(self) -> None:
        """The current screen as an SVG file in the folder workbench runs in."""
        name = type(self.screen).__name__.removesuffix("Screen").lower() or "screen"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        try:
            path = self.save_screenshot(f"workbench-{name}-{stamp}.svg", str(self.svg_dir))
        except OSError as e:
            self.notify(f"could not save the screen: {e}", severity="error")
            return
        self.notify(f"saved {path}")

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    # ------------------------------------------------------------ run actions (shared by screens)

    def confirm_stop(self, run_id: str) -> None:
        def answer(yes: bool | None) -> None:
            if yes:
                self.notify(f"stopping {run_id}: it saves a checkpoint first…")
                self.stop_worker(run_id)

        self.push_screen(ConfirmScreen(f"Stop [b]{run_id}[/b]? It saves a checkpoint and ends as "
                                       "'stopped'; [b]r[/b] resumes it later."), answer)

    @work(thread=True, group="actions")
    def stop_worker(self, run_id: str) -> None:
        try:
            status = launch.stop_run(self.store.run(run_id))
            msg = RunActionDone(f"{run_id}: {status}", "information", run_id)
        except WorkbenchError as e:
            msg = RunActionDone(str(e), "error", run_id)
        self.call_from_thread(self._deliver, msg)

    def resume(self, run_id: str, open_dashboard: bool = True) -> None:
        self.resume_worker(run_id, open_dashboard)

    @work(thread=True, group="actions")
    def resume_worker(self, run_id: str, open_dashboard: bool) -> None:
        try:
            launch.resume_run(self.store, self.store.run(run_id))
        except WorkbenchError as e:
            self.call_from_thread(self._deliver, RunActionDone(str(e), "warning", run_id))
            return
        self.call_from_thread(self._deliver, RunActionDone(f"resumed {run_id}", "information", run_id))
        if open_dashboard:
            self.call_from_thread(self.open_run, run_id)

    def _deliver(self, message: RunActionDone) -> None:
        """Tell the current screen (it notifies and polls at once); else notify here."""
        if hasattr(self.screen, "on_run_action_done"):
            self.screen.post_message(message)
        else:
            self.notify(message.text, severity=message.severity)


def run_app(runs_dir: str | Path = "runs", experiments_dir: str | Path = "experiments") -> int:
    if not Path(experiments_dir).is_dir():
        print(f"workbench: no {experiments_dir}/ folder here ({os.getcwd()}); the TUI lists the "
              f"experiment files in it. `workbench init` writes the examples here; or use "
              f"--experiments-dir, or `workbench --help` for the commands.")
    WorkbenchApp(runs_dir=runs_dir, experiments_dir=experiments_dir).run()
    return 0
