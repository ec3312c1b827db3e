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
