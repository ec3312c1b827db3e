"""Compare marked runs: overlaid curves of any metric (each run in its own colour, a pinned baseline
on top), the settings that differ, summaries, samples side by side."""

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
from workbench.smoothing import step_strength
from workbench.tui import poller
from workbench.tui.messages import ComparePolled
from workbench.tui.screens.metric_picker import MetricPicker
from workbench.tui.widgets.config_diff import short
from workbench.tui.widgets.metric_chart import Curve, MetricChart
from workbench.tui.widgets.summary_table import SummaryTable, runs_grid

X_AXES = ("step", "tokens", "time")


class CompareScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "back"),
        Binding("l", "log_y", "log-y"),
        Binding("t", "x_axis", "x-axis"),
        Binding("left", "older", "earlier sample", priority=True),
        Binding("right", "newer", "later sample", priority=True),
        # in `?`; the footer keeps to 80 columns
        Binding("b", "baseline", "baseline", show=False),
        Binding("m", "metric", "metric", show=False),
        Binding("plus,equals_sign", "smooth(1)", "smoother", show=False),
        Binding("minus", "smooth(-1)", "less smooth", show=False),
        Binding("L", "log_x", "log-x", show=False),
        Binding("z", "y_zero", "y from 0", show=False),
    ]

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.x = "step"
        self.data: dict | None = None
        self.sample_step: int | None = None  # None: the latest step all runs have
        self.wake = threading.Event()
        self.key: str | None = None  # None: val loss, else train loss
        self.smoothing = 0.0
        self.baseline: str | None = None  # a run drawn on top of the others

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="compare"):
            yield MetricChart(title="Loss (val, else train)", id="compare-loss")
            yield SummaryTable(id="summary")
            yield Static("", id="compare-config")
            yield Horizontal(id="compare-samples")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        plot = self.plot
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
            data = poller.compare_data(self.app.store, self.run_ids, x=self.x, key=self.key,
                                       smoothing=self.smoothing)
            self.post_message(ComparePolled(data))
            running = any(i.status == "running" for i in data["infos"].values())
            deadline = time.monotonic() + (2.0 if running else 3600.0)
            while not worker.is_cancelled and time.monotonic() < deadline:
                if self.wake.wait(0.25):  # short waits: quitting must not wait on this thread
                    break
            self.wake.clear()

    def on_compare_polled(self, message: ComparePolled) -> None:
        self.data = message.data
        self._draw()
        self.query_one(SummaryTable).show(self.run_ids, self.data["infos"], self.data["summaries"],
                                          self.app.run_colors)
        self._show_config()
        self._show_samples()

    @property
    def plot(self) -> MetricChart:
        return self.query_one(MetricChart)

    def _draw(self) -> None:
        d = self.data
        if d is None:
            return
        curves, used = [], set()
        for rid in self.run_ids:
            c = d["curves"].get(rid) or {}
            used.add(c.get("key"))
            curves.append(Curve(rid, c.get("raw", []), c.get("smooth") if self.smoothing else None,
                                color=self.app.run_colors.index(rid), baseline=rid == self.baseline))
        used.discard(None)
        title = " / ".join(keys.describe(k).label for k in sorted(used)) if used else "Loss"
        plot = self.plot
        plot.empty_text = "no points yet"
        plot.smoothing = self.smoothing
        plot.set_curves(curves, x=d["x"], title=title)

    def _show_config(self) -> None:
        d = self.data
        widget = self.query_one("#compare-config", Static)
        if not d["diff_keys"]:
            widget.update(Text("the runs have the same settings", style="dim"))
            return
        table = runs_grid(self.run_ids, self.app.run_colors)
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
        for rid in self.run_ids:
            samples = self.data["samples"].get(rid, {})
            # the run's sample nearest to the step, when the runs sample at different steps
            near = min(samples, key=lambda s: (abs(s - step), s), default=None)
            label = rid if near == step else f"{rid} @ step {near}"
            text = Text(f"{label}\n", style=f"bold {self.app.run_colors.rich(rid)}")
            text.append(samples.get(near, "") if near is not None else "no sample yet")
            box.mount(Static(text, classes="compare-sample"))

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_log_y(self) -> None:
        self.plot.toggle_log()

    def action_log_x(self) -> None:
        self.plot.logx = not self.plot.logx
        self.plot.replot()

    def action_y_zero(self) -> None:
        self.plot.yzero = not self.plot.yzero
        self.plot.replot()

    def action_smooth(self, direction: int) -> None:
        self.smoothing = step_strength(self.smoothing, direction)
        self.notify(f"smoothing {self.smoothing:.2f}" if self.smoothing else "smoothing off", timeout=1.5)
        self.wake.set()

    def action_baseline(self) -> None:
        """Pin the next run as the baseline (drawn on top); after the last, none."""
        order = [None, *self.run_ids]
        self.baseline = order[(order.index(self.baseline) + 1) % len(order)]
        self.notify(f"baseline: {self.baseline}" if self.baseline else "no baseline", timeout=1.5)
        self._draw()

    def action_metric(self) -> None:
        def picked(chosen: tuple[str, ...] | None) -> None:
            if chosen:
                self.key = None if len(chosen) > 1 else chosen[0]  # "loss": val, else train
                self.wake.set()

        self.app.push_screen(MetricPicker(self.data["available"] if self.data else []), picked)

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
