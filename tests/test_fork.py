"""`workbench fork`: a new run from a run's last or best checkpoint with changed settings."""

from __future__ import annotations

import json
import os

import pytest
import torch
from conftest import wait_for
from test_trainer import start, tiny_cfg

from workbench import fork
from workbench.checkpoint import load
from workbench.cli import main
from workbench.launch import apply_overrides
from workbench.run_info import RunInfo
from workbench.store import RunStore
from workbench.trainer import train


def parent_run(tmp_path, **sections):
    """A finished 20-step tiny run with last.pt (and best.pt) at its end."""
    cfg = tiny_cfg(tmp_path, sample__interval=-1, **sections)
    run = start(tmp_path, cfg)
    assert train(cfg, run).status == "finished"
    return run


def cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def runs_in(store: RunStore) -> set[str]:
    return {r.id for r in store.runs()}


def test_fork_from_last_trains_on_with_the_overrides(tmp_path, capsys):
    parent = parent_run(tmp_path)
    store = RunStore(parent.path.parent)
    before = runs_in(store)
    code, out, err = cli(capsys, "fork", parent.id[:6], "--set", "train.lr=1e-3", "--set", "train.max_steps=30",
                         "--runs-dir", str(store.root))
    assert code == 0, err
    (child_id,) = runs_in(store) - before
    child = store.run(child_id)
    assert f"forked {parent.id} at step 20" in out and "finished at step 30" in out
    info = child.info()
    assert info.status == "finished" and info.forked_from == {"run": parent.id, "checkpoint": "last", "step": 20}
    assert info.parent_config == parent.config().to_dict() and info.overrides == ["train.lr=1e-3", "train.max_steps=30"]
    cfg = child.config()
    assert cfg.train.lr == 1e-3 and cfg.train.max_steps == 30 and cfg.model == parent.config().model
    r = child.reader()
    try:
        assert min(s.step for s in r.rows("train/loss")) > 20  # the child's own metrics start at the fork
        assert [s for s, _ in r.series("eval/val_loss")] == [30]  # no evaluation at step 0 nor again at 20
        assert [e.kind for e in r.events()][:1] == ["fork"]
    finally:
        r.close()
    assert load(child.checkpoint("last"))["step"] == 30 and load(parent.checkpoint("last"))["step"] == 20
    code, out, _ = cli(capsys, "ls", "--runs-dir", str(store.root))
    assert f"fork of {parent.id}@20 + train.lr=1e-3" in out
    code, out, _ = cli(capsys, "diff", child.id, "--runs-dir", str(store.root))
    assert code == 0 and "train.lr" in out and "train.max_steps" in out and parent.id in out
    assert "model." not in out
    # a fork goes on like any run: resumed, it is a resume (the relation stays as it was)
    code, _, err = cli(capsys, "resume", child.id, "--fg", "--set", "train.max_steps=40", "--runs-dir", str(store.root))
    assert code == 0, err
    assert child.info().forked_from["step"] == 20 and "resume" in [e.kind for e in child.reader().events()]


def test_the_dashboard_draws_the_parent_faint_up_to_the_fork(tmp_path, capsys):
    """The fork's charts start at the fork step; its parent's points up to there come with them,
    by step or tokens (not by time: another run's clock), so the chart reads as one course."""
    from workbench.tui.poller import RunTail

    parent = parent_run(tmp_path)
    store = RunStore(parent.path.parent)
    code, _, err = cli(capsys, "fork", parent.id, "--set", "train.max_steps=30", "--runs-dir", str(store.root))
    assert code == 0, err
    (child_id,) = runs_in(store) - {parent.id}
    child = store.run(child_id)
    at = child.info().forked_from["step"]
    # the parent goes on past the fork step, so the cut shows
    code, _, err = cli(capsys, "resume", parent.id, "--fg", "--set", "train.max_steps=40", "--runs-dir", str(store.root))
    assert code == 0 and at == 20, err
    poller = RunTail(child)
    try:
        snap = poller.poll()
        r = parent.reader()
        try:
            assert snap.before_fork["train/loss"] == r.series("train/loss", until_step=at)
            assert max(x for x, _ in snap.before_fork["train/loss"]) <= at < max(s for s, _ in r.series("train/loss"))
            assert min(x for x, _ in snap.series["train/loss"]) > at
        finally:
            r.close()
        poller.x = "time"
        assert poller.poll().before_fork == {}
    finally:
        poller.close()
    info = child.info()
    info.forked_from["run"] = "../" + parent.id  # run.json is untrusted: never a path
    assert fork.parent_of(child, info) is None


def test_a_fork_restores_the_full_state_a_resume_does(tmp_path, capsys):
    """Forked with only a longer max_steps, the child ends where the parent extended by resume ends."""
    parent = parent_run(tmp_path, train__max_steps=20)
    store = RunStore(parent.path.parent)
    before = runs_in(store)
    assert cli(capsys, "fork", parent.id, "--set", "train.max_steps=30", "--runs-dir", str(store.root))[0] == 0
    (child_id,) = runs_in(store) - before
    code, _, err = cli(capsys, "resume", parent.id, "--fg", "--set", "train.max_steps=30", "--runs-dir", str(store.root))
    assert code == 0, err
    a, b = load(parent.checkpoint("last")), load(store.run(child_id).checkpoint("last"))
    assert a["step"] == b["step"] == 30 and a["tokens"] == b["tokens"]
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_fork_from_best_in_the_background(tmp_path, capsys):
    parent = parent_run(tmp_path, eval__interval=5)
    store = RunStore(parent.path.parent)
    best_step = load(parent.checkpoint("best"))["step"]
    before = runs_in(store)
    code, out, err = cli(capsys, "fork", parent.id, "--from", "best", "--bg", "--set", "train.max_steps=25",
                         "--name", "slow", "--runs-dir", str(store.root))
    assert code == 0 and "in the background" in out, err
    (child_id,) = runs_in(store) - before
    child = store.run(child_id)
    assert child_id.startswith("slow-")
    wait_for(lambda: child.info().status not in ("running", "stopped"), 60, "the fork to finish",
             detail=lambda: "\n".join(child.log_tail(20)))
    info = child.info()
    assert info.status == "finished", info.reason
    assert info.forked_from == {"run": parent.id, "checkpoint": "best", "step": best_step}
    assert load(child.checkpoint("last"))["step"] == 25


def test_refusals_leave_no_run_behind(tmp_path, capsys):
    parent = parent_run(tmp_path, checkpoint__keep_best=False)
    store = RunStore(parent.path.parent)
    before = runs_in(store)
    root = ("--runs-dir", str(store.root))
    code, _, err = cli(capsys, "fork", parent.id, "--from", "best", *root)
    assert code == 2 and "has no best checkpoint" in err and "--from last" in err
    code, _, err = cli(capsys, "fork", parent.id, "--set", "model.n_embd=32", "--set", "train.max_steps=30", *root)
    assert code == 2 and "--set model.n_embd" in err and "new run" in err
    code, _, err = cli(capsys, "fork", parent.id, "--set", "data.tokenizer='gpt2'", *root)
    assert code == 2 and "--set data.tokenizer" in err
    code, _, err = cli(capsys, "fork", parent.id, "--set", "train.lr=1e-3", *root)  # at its end: nothing to train
    assert code == 2 and "is finished" in err and "--set train.max_steps=N above that" in err
    parent.update_info(status="stopped")  # known only from the checkpoint: the step it holds
    code, _, err = cli(capsys, "fork", parent.id, "--set", "train.max_steps=15", *root)
    assert code == 2 and "starts at step 20" in err and "train.max_steps=N with N above 20" in err
    code, _, err = cli(capsys, "fork", parent.id, "--set", "train.lrr=1", *root)
    assert code == 2 and "did you mean" in err
    assert runs_in(store) == before
    # what leaves the weights as they are may change
    assert fork.fork_config(parent, ["model.dropout=0.1", "model.attention='manual'"]).model.dropout == 0.1


def test_damaged_and_running_parents(tmp_path, capsys):
    parent = parent_run(tmp_path)
    store = RunStore(parent.path.parent)
    good = parent.info_path.read_text()
    parent.info_path.write_text("{not json")
    code, _, err = cli(capsys, "fork", parent.id, "--set", "train.max_steps=30", "--runs-dir", str(store.root))
    assert code == 2 and "damaged" in err
    # a running run forks from its last checkpoint as it is on disk (written aside, then renamed)
    parent.info_path.write_text(good)
    with parent.lock().acquire():
        parent.mark_running()
        assert parent.info().status == "running"
        child = fork.create_fork(store, parent, "last", fork.fork_config(parent, ["train.max_steps=30"]),
                                 ["train.max_steps=30"])
        parent.checkpoint("last").unlink()
        with pytest.raises(Exception, match="has no last checkpoint yet"):
            fork.parent_checkpoint(parent, "last")
    info = child.info()
    assert info.status == "stopped" and "not trained yet" in info.reason
    assert load(child.checkpoint("last"))["step"] == 20  # the child's file outlives the parent's


def test_the_trainer_refuses_a_fork_with_no_steps_left(tmp_path):
    """The TUI forks without torch: the trainer checks the step and says why the fork failed."""
    parent = parent_run(tmp_path)
    store = RunStore(parent.path.parent)
    cfg = apply_overrides(parent.config(), ["train.lr=1e-3"])  # what fork_config refuses for a finished parent
    child = fork.create_fork(store, parent, "last", cfg, ["train.lr=1e-3"])
    with child.lock().acquire():
        child.mark_resuming(os.getpid())
        result = train(child.config(), child, resume=True)
    assert result.status == "failed" and result.exit_code == 2
    info = child.info()
    assert info.status == "failed" and "train.max_steps=N with N above 20" in info.reason


def test_run_json_forked_from_is_checked():
    def parsed(forked_from):
        return RunInfo.parse(json.dumps({"status": "finished", "forked_from": forked_from}), "x")

    assert parsed({"run": "a-1", "checkpoint": "best", "step": 5}).forked_from["step"] == 5
    assert parsed(None).status == "finished"
    for bad in ({"run": "a-1", "checkpoint": "../x", "step": 5}, {"run": 3, "checkpoint": "last", "step": None},
                {"run": "a", "checkpoint": "last", "step": "5"}, {"run": "a", "checkpoint": "last", "step": True},
                ["a"]):
        assert parsed(bad).status == "damaged", bad


def test_f_on_the_runs_table_forks_in_the_background(tmp_path):
    import asyncio

    pytest.importorskip("textual")
    from conftest import wait_for_pilot

    from workbench.tui.app import WorkbenchApp
    from workbench.tui.screens.dashboard import DashboardScreen
    from workbench.tui.screens.overrides import OverridesScreen
    from workbench.tui.widgets.metric_chart import MetricChart
    from workbench.tui.widgets.runs_table import RunsTable

    parent = parent_run(tmp_path)
    store = RunStore(parent.path.parent)
    (tmp_path / "experiments").mkdir()
    before = runs_in(store)

    async def go() -> None:
        app = WorkbenchApp(store.root, tmp_path / "experiments", location="~/demo", poll_interval=0.1)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for_pilot(pilot, lambda: app.screen.query_one(RunsTable).row_count == 1, what="the runs table")
            await pilot.press("tab", "f")
            await wait_for_pilot(pilot, lambda: isinstance(app.screen, OverridesScreen), what="the overrides dialog")
            await pilot.press(*"model.n_layer=3", "enter")  # refused: a notification, and no run
            await wait_for_pilot(pilot, lambda: any("--set model.n_layer" in n.message for n in app._notifications),
                                 what="the refusal")
            assert runs_in(store) == before
            await pilot.press("f", *"train.max_steps=30 train.lr=1e-3", "enter")
            await wait_for_pilot(pilot, lambda: isinstance(app.screen, DashboardScreen), what="the fork's dashboard")
            child_id = app.screen.run_id
            assert child_id != parent.id
            # opened before the fork's trainer read the checkpoint: the parent's curve comes once it has
            chart = app.screen.query_one(MetricChart)
            await wait_for_pilot(pilot, lambda: any(c.faint and c.points for c in chart.curves), timeout=60,
                                 what="the parent's curve, faint")
            assert "parent run, before the fork" in str(chart.border_title)
            await pilot.press("escape")
            table = app.screen.query_one(RunsTable)
            await wait_for_pilot(pilot, lambda: table.row_count == 2 and "kind" in [str(c.label).strip() for c in table.columns.values()],
                                 what="the fork's row")
            assert str(table.get_cell(child_id, "kind")) == "fork" and str(table.get_cell(parent.id, "kind")) == ""

    asyncio.run(go())
    (child_id,) = runs_in(store) - before
    child = store.run(child_id)
    wait_for(lambda: child.info().status not in ("running", "stopped"), 60, "the fork to finish",
             detail=lambda: "\n".join(child.log_tail(20)))
    info = child.info()
    assert info.status == "finished" and info.forked_from == {"run": parent.id, "checkpoint": "last", "step": 20}
    assert child.config().train.lr == 1e-3
