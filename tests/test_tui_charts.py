"""Charts: round ticks, smoothing on raw points, the metric picker, the chart grid, log x, y from zero,
stable run colours and a pinned baseline."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("textual")

from conftest import wait_for_pilot  # noqa: E402
from fixtures_store import T0  # noqa: E402

from workbench import keys  # noqa: E402
from workbench.smoothing import ema, step_strength  # noqa: E402
from workbench.store import RunStore  # noqa: E402
from workbench.tui import axes  # noqa: E402
from workbench.tui.app import WorkbenchApp  # noqa: E402
from workbench.tui.screens.compare import CompareScreen  # noqa: E402
from workbench.tui.screens.dashboard import DashboardScreen  # noqa: E402
from workbench.tui.screens.metric_picker import MetricPicker  # noqa: E402
from workbench.tui.widgets.chart_grid import ChartGrid  # noqa: E402
from workbench.tui.widgets.metric_chart import MetricChart  # noqa: E402

RUN = "tiny-20260101-120000"
OTHER = "fast-20260101-123000"


def test_round_ticks():
    assert axes.x_ticks(0, 200, "step") == ([0, 50, 100, 150, 200], ["0", "50", "100", "150", "200"])
    pos, labels = axes.x_ticks(0, 3.58, "step")
    assert all(p == int(p) for p in pos)  # never "35.8" steps
    assert axes.x_ticks(0, 2_283_520, "tokens")[1] == ["0", "500k", "1M", "1.5M", "2M"]
    assert axes.x_ticks(0, 3e9, "tokens")[1][-1] == "3B"
    assert axes.x_ticks(0, 300, "time")[1] == ["0:00", "1:00", "2:00", "3:00", "4:00", "5:00"]
    assert axes.x_ticks(0, 4 * 3600, "time")[1] == ["0:00", "1:00", "2:00", "3:00", "4:00"]  # h:mm
    pos, labels = axes.x_ticks(1, 5, "step", log=True)  # log10 of 10 … 100000
    assert labels == ["10", "100", "1k", "10k", "100k"]


def test_smoothing_is_computed_on_the_raw_points(tmp_path):
    run = RunStore(tmp_path / "runs").run("r")
    run.path.mkdir(parents=True)
    values = [(-1) ** i * 1.0 + i / 1000 for i in range(3000)]  # a zigzag: downsampling keeps its extremes
    with run.writer() as w:
        for i, v in enumerate(values):
            w.scalars(i, i, {keys.TRAIN_LOSS: v}, t=T0 + i)
    r = run.reader()
    smooth, state = r.smoothed(keys.TRAIN_LOSS, 0.9, max_points=100)
    raw_small = r.series(keys.TRAIN_LOSS, max_points=100)
    r.close()
    assert len(smooth) <= 101 and smooth[-1] == (2999.0, pytest.approx(ema(values, 0.9)[-1]))
    assert smooth[-1][1] != pytest.approx(ema([v for _, v in raw_small], 0.9)[-1], abs=1e-3)
    assert state.add(5.0) == pytest.approx(ema([*values, 5.0], 0.9)[-1])  # goes on with new points
    assert [step_strength(0.0, +1), step_strength(0.95, +1), step_strength(0.99, +1)] == [0.3, 0.99, 0.99]


def app_for(store_dirs) -> WorkbenchApp:
    runs, exps = store_dirs
    return WorkbenchApp(runs, exps, location="~/demo", poll_interval=0.1)


async def until(pilot, cond, what: str) -> None:
    await wait_for_pilot(pilot, cond, timeout=30.0, what=what, ignore=(Exception,))  # not composed yet


def test_dashboard_charts_grid_picker_smoothing_and_axes(tui_store, pinned_tui):
    async def go() -> None:
        app = app_for(tui_store)
        async with app.run_test(size=(200, 50)) as pilot:
            app.open_run(RUN)
            await until(pilot, lambda: app.screen.query_one(ChartGrid).charts[3].curves[0].points, "four charts")
            grid = app.screen.query_one(ChartGrid)
            assert grid.shown == 4 and all(c.display for c in grid.charts)
            assert grid.charts[2].curves[0].label == "grad norm" and grid.charts[2].curves[0].points
            await pilot.resize_terminal(80, 24)
            await until(pilot, lambda: grid.shown == 1, "one chart at 80x24")
            assert [c.display for c in grid.charts] == [True, False, False, False]
            chart = grid.charts[0]
            await pilot.press("m")
            assert isinstance(app.screen, MetricPicker)
            picker = app.screen.query_one("#metric-picker")
            picker.highlighted = [o.id for o in picker.options].index(keys.MFU)
            await pilot.press("enter")
            assert isinstance(app.screen, DashboardScreen)
            await until(pilot, lambda: chart.curves[0].label == "MFU" and chart.curves[0].points, "MFU chart")
            await pilot.press("plus")
            await until(pilot, lambda: chart.curves[0].smooth, "the smoothed curve")
            assert chart.smoothing == 0.3 and "smooth 0.30" in chart.border_subtitle
            await pilot.press("minus")
            await until(pilot, lambda: chart.curves[0].smooth is None, "smoothing off")
            await pilot.press("L", "z")
            assert chart.logx and chart.yzero and "log x" in chart.border_subtitle
            await pilot.press("t")
            await until(pilot, lambda: chart.x == "tokens" and chart.curves[0].points[-1][0] == 200 * 512, "tokens")

    asyncio.run(go())


def test_compare_colours_baseline_and_metric(tui_store, pinned_tui):
    async def go() -> None:
        app = app_for(tui_store)
        async with app.run_test(size=(120, 40)) as pilot:
            app.open_run(OTHER)  # the dashboard takes OTHER's colour first
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "dashboard")
            first = app.run_colors.index(OTHER)
            await pilot.press("escape")
            app.open_compare([RUN, OTHER])
            await until(pilot, lambda: app.screen.data is not None, "compare data")
            screen = app.screen
            assert isinstance(screen, CompareScreen)
            chart = screen.query_one(MetricChart)
            assert [c.color for c in chart.curves] == [app.run_colors.index(RUN), first]
            assert len({c.color for c in chart.curves}) == 2
            await pilot.press("b")
            assert [c.baseline for c in chart.curves] == [True, False] and "(baseline)" in chart.border_title
            await pilot.press("b", "b")
            assert not any(c.baseline for c in chart.curves)
            await pilot.press("m")
            picker = app.screen.query_one("#metric-picker")
            picker.highlighted = [o.id for o in picker.options].index(keys.TRAIN_LR)
            await pilot.press("enter")
            await until(pilot, lambda: chart.title == "lr" and chart.curves[0].points, "lr curves")
            await pilot.press("plus")
            await until(pilot, lambda: chart.curves[0].smooth, "smoothed curves")

    asyncio.run(go())


def test_group_band_is_mean_min_max_where_runs_have_data():
    from workbench.tui.groups import band, group_runs

    mean, lo, hi = band([[(0, 1.0), (10, 3.0)], [(0, 3.0), (5, 3.0)]])
    assert mean == [(0, 2.0), (5, 2.5), (10, 3.0)]  # x=5: 2.0 interpolated and 3.0; x=10: only the first
    assert lo == [(0, 1.0), (5, 2.0), (10, 3.0)] and hi == [(0, 3.0), (5, 3.0), (10, 3.0)]
    groups = group_runs(["a", "b", "c"], {"a": {"train.lr": 0.1}, "b": {"train.lr": 0.2}, "c": {"train.lr": 0.1}},
                        "train.lr")
    assert groups == {"train.lr=0.1": ["a", "c"], "train.lr=0.2": ["b"]}


def test_compare_groups_and_sorts(tui_store, pinned_tui):
    from fixtures_store import add_run

    from workbench.tui.widgets.compare_runs import CompareRuns

    runs_dir, exp_dir = tui_store
    add_run(RunStore(runs_dir), exp_dir, "tiny-20260101-140000", "tiny", "finished", 200, T0 + 5400,
            lr_scale=1.6, overrides=("train.seed=2",))
    ids = [RUN, "tiny-20260101-140000", OTHER]

    async def go() -> None:
        app = app_for(tui_store)
        async with app.run_test(size=(120, 40)) as pilot:
            app.open_compare(ids)
            await until(pilot, lambda: app.screen.data is not None, "compare data")
            screen, table = app.screen, app.screen.query_one(CompareRuns)
            assert screen.data["diff_keys"] == ["train.lr", "train.seed"]
            assert table.headers == ["run", "best val", "tok/s mean", "train.lr", "train.seed"]
            assert table.order[0] == "tiny-20260101-140000"  # lowest best val first
            await pilot.press("o", "o")  # best val → tok/s → train.lr
            assert table.sort_name == "train.lr ↑" and table.order[-1] == OTHER
            await pilot.press("O")
            assert table.order[0] == OTHER and "train.lr ↓" in table.border_subtitle
            await pilot.press("g")
            chart = screen.query_one(MetricChart)
            assert screen.group_key == "train.lr" and [c.label for c in chart.curves] == [
                "train.lr=0.003 (2 runs)", "train.lr=0.006 (1 run)"]
            assert chart.curves[0].band is not None and chart.curves[1].band is None
            await pilot.press("g", "g")
            assert screen.group_key is None and len(chart.curves) == 3

    asyncio.run(go())
