"""The dashboard's charts: one at 80x24, a 2x2 grid of small ones on a large terminal.

Each chart shows a few keys of one run (loss: train and val; or any recorded key,
chosen with the metric picker). The grid holds the run's series and the options
every chart shares (x axis, log axes, y from zero, smoothing).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid

from workbench import keys
from workbench.tui.widgets.metric_chart import Curve, MetricChart

LOSS = (keys.TRAIN_LOSS, keys.EVAL_VAL_LOSS)
DEFAULT_CHARTS = [LOSS, (keys.TRAIN_LR,), (keys.TRAIN_GRAD_NORM,), (keys.TOK_PER_S,)]
GRID_MIN = (150, 40)  # columns and rows of the terminal from which four charts show
SERIES_LABELS = {keys.TRAIN_LOSS: "train", keys.EVAL_VAL_LOSS: "val"}


BEFORE_FORK = "parent run, before the fork"


def chart_title(chart_keys: tuple[str, ...]) -> str:
    return "Loss" if chart_keys == LOSS else keys.describe(chart_keys[0]).label


class ChartGrid(Grid):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.chart_keys: list[tuple[str, ...]] = list(DEFAULT_CHARTS)
        self.series: dict[str, list] = {}
        self.smooth: dict[str, list] = {}
        self.before_fork: dict[str, list] = {}  # a fork's parent up to the fork step, drawn faint
        self.x = "step"
        self.logy = self.logx = self.yzero = False
        self.smoothing = 0.0
        self.shown = 1
        self.by_time: set[str] = set()  # telemetry keys: drawn by time, whatever the x axis
        self.available: set[str] | None = None  # every key the run recorded, once known

    def compose(self) -> ComposeResult:
        for i in range(len(DEFAULT_CHARTS)):
            yield MetricChart(title=chart_title(self.chart_keys[i]), id="loss" if i == 0 else f"chart-{i}")

    @property
    def charts(self) -> list[MetricChart]:
        return list(self.query(MetricChart))

    def layout_for(self, width: int, height: int) -> None:
        self.shown = 4 if (width >= GRID_MIN[0] and height >= GRID_MIN[1]) else 1
        self.set_class(self.shown > 1, "-grid")
        for i, chart in enumerate(self.charts):
            chart.display = i < self.shown
        self.redraw()

    def visible_keys(self) -> tuple[str, ...]:
        out: list[str] = []
        for ks in self.chart_keys[:self.shown]:
            out += [k for k in ks if k not in out]
        return tuple(out)

    def current(self) -> int:
        """The chart the metric picker changes: the focused one, else the first."""
        for i, chart in enumerate(self.charts[:self.shown]):
            if chart.has_focus:
                return i
        return 0

    def set_data(self, series: dict, smooth: dict | None, x: str, before_fork: dict | None = None) -> None:
        self.series, self.smooth, self.x = series, smooth or {}, x
        if before_fork is not None:  # None: unchanged (a telemetry poll)
            self.before_fork = before_fork
        self.redraw()

    def toggle(self, option: str) -> None:
        """Flip "logy", "logx" or "yzero" for every chart (MetricChart.toggle does it for one)."""
        setattr(self, option, not getattr(self, option))
        self.redraw()

    def redraw(self) -> None:
        for i, chart in enumerate(self.charts[:self.shown]):
            ks = self.chart_keys[i]
            curves = [Curve(SERIES_LABELS.get(k, keys.describe(k).label) if len(ks) > 1 else keys.describe(k).label,
                            self.series.get(k, []), self.smooth.get(k) if self.smoothing else None, color=j)
                      for j, k in enumerate(ks)]
            curves += [Curve(BEFORE_FORK, self.before_fork[k], color=j, faint=True)
                       for j, k in enumerate(ks) if self.before_fork.get(k)]
            chart.logy, chart.logx, chart.yzero, chart.smoothing = self.logy, self.logx, self.yzero, self.smoothing
            by_time = all(k in self.by_time for k in ks)
            recorded = self.available is None or any(k in self.available for k in ks)
            chart.empty_text = "waiting for the first step…" if recorded else "not recorded by this run (m: pick)"
            chart.set_curves(curves, x="time" if by_time else self.x, title=chart_title(ks))
