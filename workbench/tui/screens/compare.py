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
from workbench.tui.groups import band, group_runs
from workbench.tui.messages import ComparePolled
from workbench.tui.screens.metric_picker import MetricPicker
from workbench.tui.widgets.compare_runs import CompareRuns
from workbench.tui.widgets.metric_chart import Curve, MetricChart
from workbench.tui.widgets.summary_table import SummaryTable


class CompareScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "back"),
        Binding("l", "log_y", "log-y"),
        Binding("t", "x_axis", "x-axis", tooltip="step, tokens, wall time"),
        Binding("left", "older", "earlier sample", priority=True),
        Binding("right", "newer", "later sample", priority=True),
        # in `?`; the footer keeps to 80 columns
        Binding("b", "baseline", "baseline", show=False, tooltip="pin the next run as the baseline, drawn on top (then none)"),
        Binding("m", "metric", "metric", show=False, tooltip="pick the chart's metric: loss or any recorded key"),
        Binding("plus,equals_sign", "smooth(1)", "smoother", show=False),
        Binding("minus", "smooth(-1)", "less smooth", show=False),
        Binding("L", "log_x", "log-x", show=False),
        Binding("z", "y_zero", "y from 0", show=False, tooltip="y axis from zero / fitted"),
        Binding("g", "group", "group", show=False, tooltip="by the next setting that differs: mean and min-max band"),
        Binding("o", "sort", "sort", show=False, tooltip="the runs table by the next column"),
        Binding("O", "sort(True)", "reverse sort", show=False),
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
        self.group_key: str | None = None  # runs grouped by this config key: mean and min-max band

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="compare"):
            yield MetricChart(title="Loss (val, else train)", id="compare-loss")
            yield SummaryTable(id="summary")
            yield CompareRuns(id="compare-runs")
            yield Horizontal(id="compare-samples")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        plot = self.plot
        plot.empty_text = "reading runs…"
        plot.replot()
        self.query_one("#compare").focus()
        self.query_one("#compare-samples").border_title = "Samples"
        self.poll_loop()

    @work(thread=True, exclusive=True, group="compare-poll")
    def poll_loop(self) -> None:
        worker = get_current_worker()
        ended: dict = {}  # ended runs' parts, read once (poller.compare_data)
        while not worker.is_cancelled:
            data = poller.compare_data(self.app.store, self.run_ids, x=self.x, key=self.key,
                                       smoothing=self.smoothing, ended=ended)
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
        used = {(d["curves"].get(rid) or {}).get("key") for rid in self.run_ids}
        used.discard(None)
        curves = self._group_curves() if self.group_key else self._run_curves()
        title = " / ".join(keys.describe(k).label for k in sorted(used)) if used else "Loss"
        plot = self.plot
        plot.empty_text = "no points yet"
        plot.smoothing = self.smoothing
        plot.set_curves(curves, x=d["x"], title=title)

    def _run_curves(self) -> list[Curve]:
        out = []
        for rid in self.run_ids:
            c = self.data["curves"].get(rid) or {}
            out.append(Curve(rid, c.get("raw", []), c.get("smooth") if self.smoothing else None,
                             color=self.app.run_colors.index(rid), baseline=rid == self.baseline))
        return out

    def _group_curves(self) -> list[Curve]:
        """Each group: the mean of its runs (smoothed ones, if smoothing) and their min-max band."""
        out = []
        for label, rids in group_runs(self.run_ids, self.data["configs"], self.group_key).items():
            series = []
            for rid in rids:
                c = self.data["curves"].get(rid) or {}
                series.append((c.get("smooth") if self.smoothing else None) or c.get("raw", []))
            mean, lo, hi = band(series)
            out.append(Curve(f"{label} ({len(rids)} run{'s' if len(rids) > 1 else ''})", mean,
                             color=self.app.run_colors.index(label), band=(lo, hi) if len(rids) > 1 else None))
        return out

    def _show_config(self) -> None:
        d = self.data
        self.query_one(CompareRuns).show(self.run_ids, d["summaries"], d["configs"], d["diff_keys"],
                                         self.app.run_colors)

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
        texts = []
        for rid in self.run_ids if step is not None else []:
            samples = self.data["samples"].get(rid, {})
            # the run's sample nearest to the step, when the runs sample at different steps
            near = min(samples, key=lambda s: (abs(s - step), s), default=None)
            label = rid if near == step else f"{rid} @ step {near}"
            text = Text(f"{label}\n", style=f"bold {self.app.run_colors.rich(rid)}")
            text.append(samples.get(near, "") if near is not None else "no sample yet")
            texts.append(text)
        shown = list(box.query_children(Static))
        if len(shown) == len(texts):  # each poll: the same panes, updated in place
            for pane, text in zip(shown, texts):
                pane.update(text)
        else:
            box.remove_children()
            box.mount_all(Static(text, classes="compare-sample") for text in texts)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_log_y(self) -> None:
        self.plot.toggle("logy")

    def action_log_x(self) -> None:
        self.plot.toggle("logx")

    def action_y_zero(self) -> None:
        self.plot.toggle("yzero")

    def action_smooth(self, direction: int) -> None:
        self.smoothing = step_strength(self.smoothing, direction)
        self.wake.set()

    def action_group(self) -> None:
        """Group the runs by the next setting that differs (then not at all)."""
        order = [None, *(self.data["diff_keys"] if self.data else [])]
        self.group_key = order[(order.index(self.group_key) + 1) % len(order)] if self.group_key in order else None
        self._draw()  # the legend names the groups

    def action_sort(self, reverse: bool = False) -> None:
        self.query_one(CompareRuns).cycle_sort(reverse)  # its subtitle names the order

    def action_baseline(self) -> None:
        """Pin the next run as the baseline (drawn on top); after the last, none."""
        order = [None, *self.run_ids]
        self.baseline = order[(order.index(self.baseline) + 1) % len(order)]
        self._draw()

    def action_metric(self) -> None:
        def picked(chosen: tuple[str, ...] | None) -> None:
            if chosen:
                self.key = None if len(chosen) > 1 else chosen[0]  # "loss": val, else train
                self.wake.set()

        self.app.push_screen(MetricPicker(self.data["available"] if self.data else []), picked)

    def action_x_axis(self) -> None:
        self.x = poller.X_AXES[(poller.X_AXES.index(self.x) + 1) % len(poller.X_AXES)]
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
