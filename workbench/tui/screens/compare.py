"""Compare marked runs: overlaid loss curves, the settings that differ, summaries, samples side by side."""

from __future__ import annotations

import threading
import time

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from workbench import keys
from workbench.tui import poller
from workbench.tui.messages import ComparePolled
from workbench.tui.widgets.config_diff import short
from workbench.tui.widgets.loss_plot import RICH_COLORS, LossPlot
from workbench.tui.widgets.summary_table import SummaryTable, runs_grid

X_AXES = ("step", "tokens", "time")


class CompareScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "back"),
        Binding("l", "log_y", "log-y"),
        Binding("t", "x_axis", "x-axis"),
        Binding("left", "older", "earlier sample", priority=True),
        Binding("right", "newer", "later sample", priority=True),
    ]

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.x = "step"
        self.data: dict | None = None
        self.sample_step: int | None = None  # None: the latest step all runs have
        self.wake = threading.Event()

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="compare"):
            yield LossPlot(title="Loss (val, else train)", id="compare-loss")
            yield SummaryTable(id="summary")
            yield Static("", id="compare-config")
            yield Horizontal(id="compare-samples")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        plot = self.query_one(LossPlot)
        plot.empty_text = "reading runs…"
        plot.replot()
        self.query_one("#compare").focus()
        self.query_one("#compare-config").border_title = "Settings that differ"
        self.query_one("#compare-samples").border_title = "Samples"
        self.poll_loop()

    @work(thread=True, exclusive=True, group="compare-poll")
    def poll_loop(self) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled:
            data = poller.compare_data(self.app.store, self.run_ids, x=self.x)
            self.post_message(ComparePolled(data))
            running = any(i.status == "running" for i in data["infos"].values())
            deadline = time.monotonic() + (2.0 if running else 3600.0)
            while not worker.is_cancelled and time.monotonic() < deadline:
                if self.wake.wait(0.25):  # short waits: quitting must not wait on this thread
                    break
            self.wake.clear()

    def on_compare_polled(self, message: ComparePolled) -> None:
        self.data = d = message.data
        curves = []
        for rid in self.run_ids:
            c = d["curves"].get(rid, {})
            curves.append((rid, c.get(keys.EVAL_VAL_LOSS) or c.get(keys.TRAIN_LOSS) or []))
        plot = self.query_one(LossPlot)
        plot.empty_text = "no loss points yet"
        plot.set_curves(curves, x=d["x"])
        self.query_one(SummaryTable).show(self.run_ids, d["infos"], d["summaries"])
        self._show_config()
        self._show_samples()

    def _show_config(self) -> None:
        d = self.data
        widget = self.query_one("#compare-config", Static)
        if not d["diff_keys"]:
            widget.update(Text("the runs have the same settings", style="dim"))
            return
        table = runs_grid(self.run_ids)
        for k in d["diff_keys"]:
            table.add_row(k, *[short(d["configs"][rid].get(k), 22) for rid in self.run_ids])
        widget.update(table)

    def common_steps(self) -> list[int]:
        """Steps every run has a sample at; when they share none (other intervals), every step."""
        sets = [set(self.data["samples"].get(rid, {})) for rid in self.run_ids] if self.data else []
        if not sets:
            return []
        return sorted(set.intersection(*sets) or set.union(*sets))

    def _show_samples(self) -> None:
        box = self.query_one("#compare-samples", Horizontal)
        steps = self.common_steps()
        step = self.sample_step if self.sample_step in steps else (steps[-1] if steps else None)
        box.border_title = f"Samples @ step {step}" if step is not None else "Samples (none yet)"
        box.remove_children()
        if step is None:
            return
        for i, rid in enumerate(self.run_ids):
            samples = self.data["samples"].get(rid, {})
            # the run's sample nearest to the step, when the runs sample at different steps
            near = min(samples, key=lambda s: (abs(s - step), s), default=None)
            label = rid if near == step else f"{rid} @ step {near}"
            text = Text(f"{label}\n", style=f"bold {RICH_COLORS[i % len(RICH_COLORS)]}")
            text.append(samples.get(near, "") if near is not None else "no sample yet")
            box.mount(Static(text, classes="compare-sample"))

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_log_y(self) -> None:
        self.query_one(LossPlot).toggle_log()

    def action_x_axis(self) -> None:
        self.x = X_AXES[(X_AXES.index(self.x) + 1) % len(X_AXES)]
        self.wake.set()

    def _move_sample(self, delta: int) -> None:
        steps = self.common_steps()
        if not steps:
            return
        cur = self.sample_step if self.sample_step in steps else steps[-1]
        self.sample_step = steps[max(0, min(len(steps) - 1, steps.index(cur) + delta))]
        self._show_samples()

    def action_older(self) -> None:
        self._move_sample(-1)

    def action_newer(self) -> None:
        self._move_sample(+1)
