"""The inspect screen with Pilot: `i` from a dashboard, a real `workbench attn` child process,
layer/head/checkpoint/prompt keys, initial vs trained."""

from __future__ import annotations

import asyncio
import io

import pytest

pytest.importorskip("textual")

from conftest import wait_for_pilot  # noqa: E402

from workbench.tui.app import WorkbenchApp  # noqa: E402
from workbench.tui.screens.dashboard import DashboardScreen  # noqa: E402
from workbench.tui.screens.inspect import InspectScreen  # noqa: E402

LOAD_S = 90.0  # the child imports torch: seconds, longer on a busy machine


async def loaded(pilot, screen, what: str) -> None:
    """Wait for the child process's answer; fail at once with its error if it gave one."""
    await wait_for_pilot(pilot, lambda: screen.current_maps() is not None or screen.problem, LOAD_S, what)
    assert not screen.problem


def text_of(screen, selector: str) -> str:
    """The plain text a Static shows (a rich renderable rendered at 200 columns)."""
    from rich.console import Console

    con = Console(width=200, record=True, file=io.StringIO())
    con.print(screen.query_one(selector).content)
    return con.export_text()


def test_inspect_screen_keys(inspect_store, pinned_tui):
    async def go() -> None:
        runs, exps = inspect_store
        app = WorkbenchApp(runs, exps, location="~/demo", poll_interval=0.1)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.2)
            app.open_run("tiny-20260101-120000")
            await wait_for_pilot(pilot, lambda: isinstance(app.screen, DashboardScreen), 5, "the dashboard")
            await pilot.press("i")
            screen = app.screen
            assert isinstance(screen, InspectScreen)
            assert [c.name for c in screen.ckpts] == ["init", "step-0000006", "best", "last"]
            assert "loading last" in text_of(screen, "#attn-maps")  # the UI is up while the child works
            await loaded(pilot, screen, "the last checkpoint's maps")
            head = text_of(screen, "#inspect-head")
            assert "last @ step 12 (4/4" in head and "layer 1/2" in head and "head 1/2" in head
            assert "layer 0 · head 0" in text_of(screen, "#attn-maps")
            await pilot.press("right", "down")
            assert "layer 1 · head 1" in text_of(screen, "#attn-maps")
            await pilot.press("a")
            shown = text_of(screen, "#attn-maps")
            assert "layer 1 · head 0" in shown and "layer 1 · head 1" in shown and "head all" in text_of(
                screen, "#inspect-head")
            await pilot.press("left_square_bracket")
            assert screen.current.name == "best"  # same weights as last, another file: loads again
            await pilot.press("right_square_bracket", "t")
            assert screen.current.name == "init"
            await loaded(pilot, screen, "the initial model's maps")
            init_maps = screen.current_maps()
            assert init_maps.step == 0 and "init (1/4" in text_of(screen, "#inspect-head")
            await pilot.press("p")
            for _ in range(len(screen.prompt)):
                await pilot.press("backspace")
            await pilot.press(*"abab", "escape")  # esc keeps the old prompt
            assert screen.prompt == "To be, or not to be" and app.screen is screen
            await pilot.press("p", "end", *"!", "enter")
            assert screen.prompt == "To be, or not to be!" and screen.current_maps() is None
            await loaded(pilot, screen, "the new prompt's maps")
            assert screen.current_maps().tokens[-1] == "!" and len(screen.current_maps().tokens) == 20
            await pilot.press("t")  # back to the trained model it came from
            assert screen.current.name == "last"
            await pilot.press("escape")
            assert isinstance(app.screen, DashboardScreen)

    asyncio.run(go())


def test_attn_argv_keeps_a_dash_prompt_a_prompt():
    from workbench.cli import build_parser
    from workbench.tui.attention_process import attn_argv

    args = build_parser().parse_args(attn_argv("runs", "tiny-1", "init", "-- not an option"))
    assert (args.runs, args.checkpoint, args.prompt, args.json) == (["tiny-1"], ["init"], "-- not an option", "-")
