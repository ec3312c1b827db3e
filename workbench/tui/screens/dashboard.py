"""One run, live: charts of any recorded metric, GPU and speed, progress and ETA, config diff,
samples, events and log."""

from __future__ import annotations

import threading

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import get_current_worker

from workbench import labels
from workbench.config import Config, flatten
from workbench.formatting import fmt_origin
from workbench.smoothing import step_strength
from workbench.tui.messages import RunActionDone, RunPolled, RunSnapshot
from workbench.tui.poller import X_AXES, RunTail
from workbench.tui.screens.metric_picker import MetricPicker
from workbench.tui.widgets.chart_grid import ChartGrid
from workbench.tui.widgets.config_diff import ConfigDiff
from workbench.tui.widgets.events_log import EventsLog
from workbench.tui.widgets.profile_pane import ProfilePane
from workbench.tui.widgets.progress_header import ProgressHeader
from workbench.tui.widgets.sample_view import SampleView
from workbench.tui.widgets.telemetry_panel import TelemetryPanel


def config_pair(run) -> tuple[dict, dict, str, str, list[str]] | None:
    """(own, parent, parent name, origin, overrides), the configs flattened, or None while the trainer
    has not written config.toml. A script's or a command's run has no parent: its name is ''."""
    try:
        own = flatten(run.config_values())
    except Exception:  # noqa: BLE001 - not written yet, or unreadable: try again next poll
        return None
    info = run.raw_info()
    origin = fmt_origin(info.experiment_file, info.experiment, info.overrides, info.forked_from)
    if info.kind != "trainer":  # a script's or a command's own config: nothing to diff against
        return own, {}, "", origin, []
    if info.parent_config:
        chain = info.extends_chain or []
        name = chain[1].rsplit("/", 1)[-1] if len(chain) > 1 else "parent"
        name = info.forked_from["run"] if info.forked_from else name  # a fork: against the run it forked
        return own, flatten(info.parent_config), name, origin, info.overrides
    return own, flatten(Config()), "defaults", origin, info.overrides


class DashboardScreen(Screen):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [
        Binding("question_mark", "app.help", "help"),  # first, so 80 columns still show it
        Binding("escape", "back", "back"),
        Binding("x", "stop", "stop"),
        Binding("r", "resume", "resume"),
        Binding("l", "log_y", "log-y", tooltip="log / linear y axis"),
        Binding("t", "x_axis", "x-axis", tooltip="step, tokens, wall time"),
        Binding("f", "full_config", "config", tooltip="the diff against the parent / the full config"),
        Binding("p", "profile", "profile", tooltip="the profile pane in place of the samples (and back)"),
        # chart keys: in `?` and the charts' subtitles; the footer keeps to 80 columns
        Binding("m", "metric", "metric", show=False, tooltip="pick the chart's metric: loss or any recorded key"),
        Binding("plus,equals_sign", "smooth(1)", "smoother", show=False, tooltip="EMA up to 0.99; the raw curve is drawn faint"),
        Binding("minus", "smooth(-1)", "less smooth", show=False),
        Binding("L", "log_x", "log-x", show=False),
        Binding("z", "y_zero", "y from 0", show=False, tooltip="y axis from zero / fitted"),
        Binding("i", "inspect", "inspect", show=False, tooltip="the model's attention maps"),  # named in help: the footer fits 80 columns
        # ←/→ are named in the sample pane's title rather than the footer
        Binding("left", "older", "older sample", priority=True, show=False),
        Binding("right", "newer", "newer sample", priority=True, show=False),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.x = "step"
        self.wake = threading.Event()
        self.tail: RunTail | None = None
        self.status = "running"
        self.polls = 0

    def compose(self) -> ComposeResult:
        yield ProgressHeader(self.run_id, id="progress")
        with Horizontal(id="dash-top"):
            yield ChartGrid(id="charts")
            with Vertical(id="dash-side"):
                yield TelemetryPanel(id="telemetry")
                yield ConfigDiff(id="config")
        with Horizontal(id="dash-bottom"):
            yield SampleView(id="sample")
            yield ProfilePane(id="profile")
            yield EventsLog(id="events")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.grid.layout_for(self.app.size.width, self.app.size.height)
        # a run made by `workbench profile` opens on its profile; any other on its samples
        has_profile = self.app.store.run(self.run_id).profile_path.exists()
        self.show_profile(has_profile)
        self.poll_loop()

    @property
    def grid(self) -> ChartGrid:
        return self.query_one(ChartGrid)

    def on_resize(self) -> None:
        self.grid.layout_for(self.size.width, self.size.height)
        self.wake.set()

    def show_profile(self, on: bool) -> None:
        pane = self.query_one(ProfilePane)
        if on:
            pane.show_profile(self.app.store.run(self.run_id))  # a small JSON file
        pane.display = on
        self.query_one(SampleView).display = not on

    # ------------------------------------------------------------ polling (worker thread)

    @work(thread=True, exclusive=True, group="dash-poll")
    def poll_loop(self) -> None:
        worker = get_current_worker()
        run = self.app.store.run(self.run_id)
        tail = RunTail(run, x=self.x)
        configs = None
        try:
            while not worker.is_cancelled:
                tail.x, tail.smoothing = self.x, self.grid.smoothing
                tail.chart_keys = self.grid.visible_keys()
                try:
                    snap = tail.poll()
                except Exception as e:  # noqa: BLE001 - say what broke, keep going
                    self.app.call_from_thread(self.notify, f"reading {self.run_id}: {e}", severity="error")
                    snap = None
                if snap is not None:
                    snap.labels = labels.for_run(run.path, snap.info.tags)  # `workbench tag` may change them
                    if configs is None:
                        configs = config_pair(run)
                        snap.config = configs
                    self.post_message(RunPolled(snap))
                self.wake.wait(self.app.poll_interval)
                self.wake.clear()
        finally:
            tail.close()

    def on_run_polled(self, message: RunPolled) -> None:
        snap: RunSnapshot = message.snap
        info = snap.info
        self.status = info.status
        self.polls += 1
        if snap.available is not None:
            self.grid.by_time = set(snap.by_time or [])
            self.grid.available = set(snap.available)
        if snap.series is not None:
            self.grid.set_data(snap.series, snap.smooth, snap.x, snap.before_fork)
        tele = self.query_one(TelemetryPanel)
        if snap.telemetry is not None or snap.perf is not None or snap.perf_now or self.polls == 1:
            tele.set_data(snap.telemetry, snap.telemetry_now, snap.perf, snap.perf_now,
                          device=info.device_name or None)
        self.query_one(ProgressHeader).labels = snap.labels
        self.query_one(ProgressHeader).set_state(
            status=info.status, reason=info.reason, step=snap.step, max_steps=info.max_steps,
            summary=snap.summary, waiting=snap.step == 0 and not snap.loss_seen, phase=snap.phase)
        if snap.config:
            self.query_one(ConfigDiff).set_configs(*snap.config)
            self.query_one(SampleView).expect(snap.config[0].get("sample.interval"))
        self.query_one(SampleView).add(snap.new_samples)
        self.query_one(EventsLog).add(snap.new_events, snap.log_tail)

    def on_run_action_done(self, message: RunActionDone) -> None:
        self.notify(message.text, severity=message.severity)
        self.wake.set()

    # ------------------------------------------------------------ keys

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_stop(self) -> None:
        if self.status != "running":
            self.notify(f"{self.run_id} is not running ({self.status})", severity="warning")
            return
        self.app.confirm_stop(self.run_id)

    def action_resume(self) -> None:
        self.app.resume(self.run_id, open_dashboard=False)
        self.wake.set()

    def action_log_y(self) -> None:
        self.grid.toggle("logy")

    def action_log_x(self) -> None:
        self.grid.toggle("logx")

    def action_y_zero(self) -> None:
        self.grid.toggle("yzero")

    def action_smooth(self, direction: int) -> None:
        """Smoothing from 0 (off) to 0.99; the poller computes the EMA again on the raw points."""
        g = self.grid
        g.smoothing = step_strength(g.smoothing, direction)
        g.redraw()
        self.wake.set()

    def action_metric(self) -> None:
        index = self.grid.current()

        def picked(chosen: tuple[str, ...] | None) -> None:
            if chosen:
                self.grid.chart_keys[index] = chosen
                self.grid.redraw()
                self.wake.set()

        self.app.push_screen(MetricPicker(sorted(self.grid.available or ())), picked)

    def action_x_axis(self) -> None:
        self.x = X_AXES[(X_AXES.index(self.x) + 1) % len(X_AXES)]
        self.grid.x = self.x
        self.grid.redraw()
        self.wake.set()

    def action_full_config(self) -> None:
        self.query_one(ConfigDiff).toggle_full()

    def action_profile(self) -> None:
        self.show_profile(not self.query_one(ProfilePane).display)

    def action_inspect(self) -> None:
        self.app.open_inspect(self.run_id)

    def action_older(self) -> None:
        self.query_one(SampleView).older()

    def action_newer(self) -> None:
        self.query_one(SampleView).newer()
