"""The TUI's queue pane, `a`, and the sweep screen, with Pilot (no scheduler process is started)."""

from __future__ import annotations

import pytest

pytest.importorskip("textual")

from conftest import wait_for_pilot as wait_for  # noqa: E402
from fixtures_store import T0, add_run  # noqa: E402
from test_tui import HANG_S, app_for, home_loaded, sync  # noqa: E402

from workbench import scheduler  # noqa: E402
from workbench.config import load_config  # noqa: E402
from workbench.queue import Queue  # noqa: E402
from workbench.store import RunStore  # noqa: E402
from workbench.sweep import advance, create  # noqa: E402
from workbench.tui.screens.compare import CompareScreen  # noqa: E402
from workbench.tui.screens.dashboard import DashboardScreen  # noqa: E402
from workbench.tui.screens.overrides import OverridesScreen  # noqa: E402
from workbench.tui.screens.sweep import SweepScreen  # noqa: E402
from workbench.tui.widgets.experiment_tree import ExperimentTree  # noqa: E402
from workbench.tui.widgets.queue_pane import QueuePane  # noqa: E402
from workbench.tui.widgets.trials_table import TrialsTable  # noqa: E402


@pytest.fixture
def no_scheduler(monkeypatch):
    calls = []
    monkeypatch.setattr(scheduler, "ensure_scheduler", lambda store, **kw: (calls.append(store), (1, True))[1])
    return calls


@sync
async def test_queue_pane_remove_reorder_and_a_to_queue(tui_store, pinned_tui, no_scheduler):
    runs_dir, exp_dir = tui_store
    queue = Queue(RunStore(runs_dir))
    for lr in ("1e-3", "2e-3", "3e-3"):
        queue.add(load_config(exp_dir / "tiny.toml", [f"train.lr={lr}"]), exp_dir / "tiny.toml", [f"train.lr={lr}"])
    queue.set_paused(True, "paused by the user")
    first, second, third = (e.id for e in queue.entries())
    app = app_for(tui_store)
    async with app.run_test(size=(100, 34)) as pilot:
        await home_loaded(pilot)
        pane = app.screen.query_one(QueuePane)
        await wait_for(pilot, lambda: pane.display and pane.row_count == 3, HANG_S, "the queue pane")
        assert "PAUSED" in str(pane.border_title)
        pane.focus()
        await pilot.press("J")  # the first entry one place later
        await wait_for(pilot, lambda: [e.id for e in queue.entries()] == [second, first, third], HANG_S, "a move")
        await wait_for(pilot, lambda: pane.current and pane.current.entry_id == first, HANG_S, "the cursor to follow")
        await pilot.press("d")
        await wait_for(pilot, lambda: [e.id for e in queue.entries()] == [second, third], HANG_S, "a removal")
        await wait_for(pilot, lambda: pane.row_count == 2, HANG_S, "the pane to drop it")

        tree = app.screen.query_one(ExperimentTree)
        tree.focus()
        tree.move_cursor(next(n for n in tree._tree_nodes.values() if n.data and n.data.name == "tiny"))
        await pilot.press("a")
        assert isinstance(app.screen, OverridesScreen)
        await pilot.press(*"train.lr=5e-3", "enter")
        await wait_for(pilot, lambda: len(queue.entries()) == 3, HANG_S, "the new entry")
        assert queue.entries()[-1].overrides == ["train.lr=5e-3"] and no_scheduler


def finish_trials(store: RunStore, exp_dir, sweep_id: str, n: int) -> None:
    """Play the scheduler: each waiting trial 'runs' as a fake finished run, then the sweep advances."""
    queue = Queue(store)
    for k in range(n):
        (entry,) = queue.entries(("waiting",), sweep=sweep_id)
        run_id = f"tiny-t{entry.trial}-2026010{k + 1}-140000"
        add_run(store, exp_dir, run_id, "tiny", "finished", 200, T0 + 4000 + k * 600, lr_scale=1.0 + k)
        queue.mark_running(entry.id, run_id)
        queue.mark_done(entry.id)
        advance(store, sweep_id)


@sync
async def test_sweep_screen_rows_sort_open_compare(tui_store, pinned_tui, no_scheduler):
    runs_dir, exp_dir = tui_store
    (exp_dir / "lr-sweep.toml").write_text('[experiment]\nextends = "tiny.toml"\n[sweep]\nmethod = "grid"\n'
                                           '[sweep.space]\n"train.lr" = [1e-3, 3e-3, 1e-2]\n')
    store = RunStore(runs_dir)
    info = create(store, str(exp_dir / "lr-sweep.toml"))
    finish_trials(store, exp_dir, info.id, 3)
    app = app_for(tui_store)
    async with app.run_test(size=(100, 30)) as pilot:
        await home_loaded(pilot)
        await pilot.press("v")
        assert isinstance(app.screen, SweepScreen)
        table = app.screen.query_one(TrialsTable)
        await wait_for(pilot, lambda: table.row_count == 3, HANG_S, "the trials")
        assert [str(c.label) for c in table.columns.values()] == [" ", "trial", "lr", "status", "eval/val_loss"]
        best = next(r for r in table.rows_data if r.best)
        assert best.value == min(r.value for r in table.rows_data) and best.number == 2
        await pilot.press("o")  # sort by the metric: the best first
        assert table.sort_name == "metric" and table.rows_data[0].best
        table.move_cursor(row=0)
        await pilot.press("enter")
        assert isinstance(app.screen, DashboardScreen) and app.screen.run_id == best.run_id
        await pilot.press("escape")
        assert isinstance(app.screen, SweepScreen)
        await pilot.press("space", "space", "c")
        assert isinstance(app.screen, CompareScreen)
