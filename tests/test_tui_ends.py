"""The TUI's loose ends (issue 15): the events log follows after a resize, the experiment tree
refreshes and marks invalid files, `e` edits a file, overrides save as a new file, the runs table's
took and kind columns, mark feedback, Home/End, the empty profile pane, help from the bindings."""

from __future__ import annotations

import asyncio
import functools

import pytest

pytest.importorskip("textual")

from conftest import wait_for_pilot  # noqa: E402

from workbench.tui.app import WorkbenchApp  # noqa: E402
from workbench.tui.screens.dashboard import DashboardScreen  # noqa: E402
from workbench.tui.screens.home import HomeScreen  # noqa: E402
from workbench.tui.widgets.events_log import EventsLog  # noqa: E402


def sync(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


def app_for(store_dirs) -> WorkbenchApp:
    runs, exps = store_dirs
    return WorkbenchApp(runs, exps, location="~/demo", poll_interval=0.1)


async def home_loaded(pilot) -> HomeScreen:
    return await wait_for_pilot(pilot, lambda: isinstance(pilot.app.screen, HomeScreen) and pilot.app.screen.is_mounted
                                and pilot.app.screen, what="home")


async def open_dashboard(pilot, run_id: str) -> DashboardScreen:
    await home_loaded(pilot)
    pilot.app.open_run(run_id)
    return await wait_for_pilot(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen)
                                and pilot.app.screen.query(EventsLog) and pilot.app.screen,
                                what="the dashboard")


# ---------------------------------------------------------------- events log


@sync
async def test_events_log_follows_the_newest_line_after_a_resize(tui_store, pinned_tui):
    runs, _ = tui_store
    log = runs / "tiny-20260101-120000" / "train.log"
    log.write_text("".join(f"line {i} of the log\n" for i in range(40)))
    app = app_for(tui_store)
    async with app.run_test(size=(80, 24)) as pilot:
        dash = await open_dashboard(pilot, "tiny-20260101-120000")
        events = dash.query_one(EventsLog)
        await wait_for_pilot(pilot, lambda: events.log_lines and events.max_scroll_y > 0, what="the log")

        def at_end() -> bool:
            return events.max_scroll_y > 0 and events.scroll_y == events.max_scroll_y

        await wait_for_pilot(pilot, at_end, what="the log at its end")
        for size in ((200, 50), (80, 24), (100, 30)):
            await pilot.resize_terminal(*size)
            await wait_for_pilot(pilot, at_end, what=f"the log at its end at {size}", timeout=5)
        log.write_text(log.read_text() + "the newest line\n")
        await wait_for_pilot(pilot, lambda: events.log_lines[-1] == "the newest line" and at_end(),
                             what="the new line, followed", timeout=5)
        # scrolled up on purpose: it stays there, through a resize and a new line
        events.focus()
        await pilot.press("home")
        assert events.scroll_y == 0
        await pilot.resize_terminal(90, 26)
        log.write_text(log.read_text() + "one more line\n")
        await wait_for_pilot(pilot, lambda: events.log_lines[-1] == "one more line", what="one more line")
        await pilot.pause(0.3)
        assert events.scroll_y == 0
        await pilot.press("end")
        await wait_for_pilot(pilot, at_end, what="back at the end")
