"""App-wide keys: w saves the screen as SVG, ctrl+c quits like q."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("textual")

from conftest import wait_for_pilot  # noqa: E402

from workbench.tui.app import WorkbenchApp  # noqa: E402
from workbench.tui.screens.dashboard import DashboardScreen  # noqa: E402


def test_w_saves_the_screen_as_svg_and_ctrl_c_quits(tui_store, pinned_tui, tmp_path):
    async def go() -> None:
        app = WorkbenchApp(*tui_store, location="~/demo", poll_interval=0.1)
        app.svg_dir = tmp_path
        async with app.run_test(size=(80, 24)) as pilot:
            app.open_run("tiny-20260101-120000")
            await wait_for_pilot(pilot, lambda: isinstance(app.screen, DashboardScreen), what="the dashboard")
            await pilot.press("w")
            saved = await wait_for_pilot(pilot, lambda: list(tmp_path.glob("workbench-dashboard-*.svg")),
                                         what="the SVG file")
            assert saved[0].read_text().lstrip().startswith("<svg")
            await pilot.press("ctrl+c")
            await wait_for_pilot(pilot, lambda: not app.is_running, what="the app to quit")

    asyncio.run(go())


def test_overrides_are_recorded_and_shown_apart(tui_store, pinned_tui, capsys):
    import json

    from workbench.cli import main
    from workbench.tui.widgets.config_diff import ConfigDiff

    runs_dir = str(tui_store[0])
    assert main(["ls", "--json", "--runs-dir", runs_dir]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if r["id"] == "tiny-20260101-130000")
    assert row["overrides"] == ["train.lr=0.05"] and row["origin"] == "tiny.toml + train.lr=0.05"
    assert main(["show", "tiny-20260101-130000", "--runs-dir", runs_dir]) == 0
    assert "experiment tiny.toml + train.lr=0.05 (extends" in capsys.readouterr().out

    async def go() -> None:
        app = WorkbenchApp(*tui_store, location="~/demo", poll_interval=0.1)
        async with app.run_test(size=(100, 30)) as pilot:
            app.open_run("tiny-20260101-130000")
            diff = await wait_for_pilot(pilot, lambda: app.screen.query_one(ConfigDiff).own and
                                        app.screen.query_one(ConfigDiff), what="the config diff",
                                        ignore=(Exception,))
            text = str(diff.query_one("#config-text").render())
            assert diff.border_subtitle == "tiny.toml + train.lr=0.05"
            file_part, set_part = text.split("--set")
            assert "model.n_layer" in file_part and "train.lr" not in file_part and "train.lr" in set_part


def test_sample_pane_says_when_the_first_sample_comes():
    from textual.app import App

    from workbench.tui.widgets.sample_view import SampleView

    class One(App):
        def compose(self):
            yield SampleView(id="s")

    async def go() -> None:
        app = One()
        async with app.run_test(size=(60, 10)):
            view = app.query_one(SampleView)
            view.expect(250)
            assert str(view.query_one("#sample-text").render()) == "first sample at step 250"
            view.expect(-1)
            assert "off" in str(view.query_one("#sample-text").render())

    asyncio.run(go())

    asyncio.run(go())
