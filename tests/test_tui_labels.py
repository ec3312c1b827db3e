"""Home's t (tags of the selected or marked runs), n (the run's note), the tags column and tag: filter."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("textual")

from conftest import wait_for_pilot  # noqa: E402

from workbench import labels  # noqa: E402
from workbench.tui.app import WorkbenchApp  # noqa: E402
from workbench.tui.screens.home import HomeScreen  # noqa: E402
from workbench.tui.screens.note import NoteScreen  # noqa: E402
from workbench.tui.screens.tags import TagsScreen  # noqa: E402
from workbench.tui.widgets.runs_table import RunsTable  # noqa: E402

TINY, FAST, HOT = "tiny-20260101-120000", "fast-20260101-123000", "tiny-20260101-130000"


async def home_table(pilot) -> RunsTable:
    app = pilot.app
    table = await wait_for_pilot(pilot, lambda: isinstance(app.screen, HomeScreen)
                                 and app.screen.query_one(RunsTable).row_count == 3
                                 and app.screen.query_one(RunsTable), what="the runs table")
    await pilot.press("tab")
    assert table.has_focus
    return table


def select(table: RunsTable, run_id: str) -> None:
    table.move_cursor(row=[r.id for r in table.shown].index(run_id))


def row(table: RunsTable, run_id: str):
    return next(r for r in table.rows_data if r.id == run_id)


def test_t_tags_the_marked_runs_and_the_filter_finds_them(tui_store, pinned_tui):
    runs = tui_store[0]

    async def go() -> None:
        app = WorkbenchApp(*tui_store, location="~/demo", poll_interval=0.1)
        async with app.run_test(size=(160, 40)) as pilot:
            table = await home_table(pilot)
            for rid in (TINY, HOT):
                select(table, rid)
                await pilot.press("space")
            await pilot.press("t")
            screen = await wait_for_pilot(pilot, lambda: isinstance(app.screen, TagsScreen) and app.screen,
                                          what="the tags dialog")
            assert screen.what == "2 marked runs" and screen.tags is None
            await pilot.press(*"+base wip", "enter")  # a bare name adds as well
            await wait_for_pilot(pilot, lambda: not isinstance(app.screen, TagsScreen), what="the dialog closes")
            await wait_for_pilot(pilot, lambda: row(table, HOT).tags == ["base", "wip"], what="the new tags")
            assert row(table, TINY).tags == ["base", "wip"] and row(table, FAST).tags == []
            # -name takes a tag off; a wrong tag keeps the dialog open and says why
            for rid in (TINY, HOT):  # unmark both: then t works on the selected run
                select(table, rid)
                await pilot.press("space")
            assert not table.marked
            select(table, TINY)
            await pilot.press("t")
            screen = await wait_for_pilot(pilot, lambda: isinstance(app.screen, TagsScreen) and app.screen,
                                          what="the tags dialog")
            assert screen.what == TINY and screen.tags == ["base", "wip"]
            await pilot.press(*"+a:b -wip", "enter")
            await wait_for_pilot(pilot, lambda: row(table, TINY).tags == ["base", "a:b"], what="the edit")
            assert row(table, HOT).tags == ["base", "wip"]
            await pilot.press("t")
            await wait_for_pilot(pilot, lambda: isinstance(app.screen, TagsScreen), what="the tags dialog")
            await pilot.press(*"+x!", "enter")
            assert isinstance(app.screen, TagsScreen)
            assert "letters, digits" in str(app.screen.query_one("#tags-error").render())
            await pilot.press("escape")
            assert labels.for_run(runs / TINY, []).tags == ["base", "a:b"]
            # the tags column fits at 160 columns; the filter finds runs by tag
            assert "tags" in [c.label.plain for c in table.columns.values()]
            await pilot.press("slash", *"tag:base", "enter")
            await wait_for_pilot(pilot, lambda: {r.id for r in table.shown} == {TINY, HOT}, what="the filter")
            await pilot.press("slash", *" a:b", "enter")  # plain words match tags too
            await wait_for_pilot(pilot, lambda: {r.id for r in table.shown} == {TINY}, what="the filter")
            await pilot.press("escape")
            await pilot.press("slash", *"tag:nope", "enter")
            await wait_for_pilot(pilot, lambda: not table.shown, what="nothing to show")

    asyncio.run(go())


def test_n_edits_the_note_of_the_selected_run(tui_store, pinned_tui):
    runs = tui_store[0]
    labels.set_note(runs / FAST, "first try")

    async def go() -> None:
        app = WorkbenchApp(*tui_store, location="~/demo", poll_interval=0.1)
        async with app.run_test(size=(80, 24)) as pilot:
            table = await home_table(pilot)
            await wait_for_pilot(pilot, lambda: row(table, FAST).note == "first try", what="the note")
            assert "tags" not in [c.label.plain for c in table.columns.values()]  # no room at 80 columns
            select(table, FAST)
            await pilot.press("n")
            screen = await wait_for_pilot(pilot, lambda: isinstance(app.screen, NoteScreen) and app.screen,
                                          what="the note dialog")
            assert screen.query_one("#note-edit").value == "first try"  # prefilled
            await pilot.press(*", lr too high", "enter")
            await wait_for_pilot(pilot, lambda: labels.read(runs / FAST).note == "first try, lr too high",
                                 what="the note saved")
            await wait_for_pilot(pilot, lambda: row(table, FAST).note == "first try, lr too high",
                                 what="the table to read it")
            # esc keeps the note; an empty line clears it
            await pilot.press("n")
            await wait_for_pilot(pilot, lambda: isinstance(app.screen, NoteScreen), what="the note dialog")
            await pilot.press("x", "escape")
            assert labels.read(runs / FAST).note == "first try, lr too high"
            await pilot.press("n")
            await wait_for_pilot(pilot, lambda: isinstance(app.screen, NoteScreen), what="the note dialog")
            await pilot.press("ctrl+u", "enter")  # ctrl+u: delete to the start of the line
            await wait_for_pilot(pilot, lambda: labels.read(runs / FAST).note == "", what="the note cleared")
            # a note of several lines (`workbench note`) is edited as one; enter with no change keeps it
            labels.set_note(runs / FAST, "line one\nline two")
            await wait_for_pilot(pilot, lambda: row(table, FAST).note == "line one\nline two", what="the note")
            await pilot.press("n")
            screen = await wait_for_pilot(pilot, lambda: isinstance(app.screen, NoteScreen) and app.screen,
                                          what="the note dialog")
            assert screen.query_one("#note-edit").value == "line one line two"
            await pilot.press("enter")
            await wait_for_pilot(pilot, lambda: not isinstance(app.screen, NoteScreen), what="the dialog closes")
            assert labels.read(runs / FAST).note == "line one\nline two"

    asyncio.run(go())


def test_dashboard_header_shows_tags_and_note_where_they_fit(tui_store, pinned_tui):
    from workbench.tui.widgets.progress_header import ProgressHeader

    runs = tui_store[0]
    labels.edit_tags(runs / TINY, [], [("baseline", True)])
    labels.set_note(runs / TINY, "the first\nrun")

    async def go() -> None:
        app = WorkbenchApp(*tui_store, location="~/demo", poll_interval=0.1)
        async with app.run_test(size=(200, 40)) as pilot:
            app.open_run(TINY)
            header = await wait_for_pilot(pilot, lambda: app.screen.query_one(ProgressHeader).labels
                                          and app.screen.query_one(ProgressHeader), what="the header",
                                          ignore=(Exception,))
            assert "baseline  the first run" in header.build().plain
            labels.edit_tags(runs / TINY, [], [("later", True)])  # read again every poll
            await wait_for_pilot(pilot, lambda: "baseline,later" in header.build().plain, what="the new tag")

    asyncio.run(go())
