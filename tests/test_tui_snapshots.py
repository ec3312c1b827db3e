"""Snapshots (pytest-textual-snapshot) of home, dashboard and compare at 80x24 and 200x50.

The fixture store is deterministic (fixed times, ended runs) and `pinned_tui` fixes 'now', the
time zone and the GPU list. Update with `pytest tests/test_tui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("pytest_textual_snapshot")

from fixtures_store import T0, add_run  # noqa: E402

from workbench.store import RunStore  # noqa: E402
from workbench.tui.app import WorkbenchApp  # noqa: E402
from workbench.tui.screens.compare import CompareScreen  # noqa: E402
from workbench.tui.screens.dashboard import DashboardScreen  # noqa: E402
from workbench.tui.screens.home import HomeScreen  # noqa: E402
from workbench.tui.widgets.metric_chart import MetricChart  # noqa: E402
from workbench.tui.widgets.runs_table import RunsTable  # noqa: E402

SIZES = [(80, 24), (200, 50)]


async def until(pilot, cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                await pilot.pause(0.3)  # let the last redraw land
                return
        except Exception:  # noqa: BLE001 - not composed yet
            pass
        await pilot.pause(0.05)
    raise AssertionError("timed out preparing the snapshot")


async def home_ready(pilot) -> None:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, HomeScreen)
                and app.screen.query_one(RunsTable).row_count == 3
                and "H100" in str(app.screen.query_one("#host").render()))


def make_app(tui_store) -> WorkbenchApp:
    return WorkbenchApp(*tui_store, location="~/demo", poll_interval=0.1)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_home_snapshot(snap_compare, tui_store, pinned_tui, size):
    assert snap_compare(make_app(tui_store), terminal_size=size, run_before=home_ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_dashboard_snapshot(snap_compare, tui_store, pinned_tui, size):
    async def before(pilot) -> None:
        await home_ready(pilot)
        app = pilot.app
        app.open_run("tiny-20260101-120000")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                    and len(app.screen.query_one("#sample").samples) == 2
                    and app.screen.query_one("#config").own is not None
                    and all(c.curves and c.curves[0].points for c in app.screen.query(MetricChart) if c.display)
                    and app.screen.query_one("#telemetry").telemetry)

    assert snap_compare(make_app(tui_store), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_compare_snapshot(snap_compare, tui_store, pinned_tui, size):
    """Three runs grouped by train.lr (g): two seeds of tiny as a mean with a min-max band, and fast."""
    runs_dir, exp_dir = tui_store
    add_run(RunStore(runs_dir), exp_dir, "tiny-20260101-140000", "tiny", "finished", 200, T0 + 5400,
            lr_scale=1.6, overrides=("train.seed=2",))
    ids = ["tiny-20260101-120000", "tiny-20260101-140000", "fast-20260101-123000"]

    async def before(pilot) -> None:
        app = pilot.app
        await until(pilot, lambda: isinstance(app.screen, HomeScreen) and "H100" in str(app.screen.query_one("#host").render()))
        app.open_compare(ids)
        await until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.data is not None)
        await pilot.press("g")  # the first setting that differs: train.lr
        await until(pilot, lambda: app.screen.group_key == "train.lr")

    assert snap_compare(make_app(tui_store), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_inspect_snapshot(snap_compare, inspect_store, pinned_tui, size):
    from workbench.tui.screens.inspect import InspectScreen

    async def before(pilot) -> None:
        await home_ready(pilot)
        app = pilot.app
        app.open_run("tiny-20260101-120000")
        app.open_inspect("tiny-20260101-120000")
        # the maps come from a `workbench attn` child process that imports torch
        await until(pilot, lambda: isinstance(app.screen, InspectScreen) and app.screen.current_maps() is not None,
                    timeout=90)
        if size[0] > 120:
            await pilot.press("a")  # a wide terminal: both heads side by side

    assert snap_compare(make_app(inspect_store), terminal_size=size, run_before=before)
