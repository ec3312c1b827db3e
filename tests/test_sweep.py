"""Sweeps: the [sweep] table's checks, and real sweeps of tiny CPU trials through the queue."""

from __future__ import annotations

import json

import pytest

from tests import test_queue
from tests.conftest import wait_for
from tests.test_queue import TIMEOUT, cli, write_tiny
from workbench.errors import WorkbenchError
from workbench.scheduler import scheduler_pid
from workbench.sweep_config import load_sweep

store = test_queue.store  # the fixture: afterwards the scheduler and its runs are killed


def sweep_file(tmp_path, body: str, **sections):
    base = write_tiny(tmp_path, **{"train__min_lr": 0.0, **sections})
    path = tmp_path / "sweep.toml"
    path.write_text(f'[experiment]\nextends = "{base.name}"\n{body}')
    return path


@pytest.mark.parametrize("body, message", [
    ('[sweep]\n[sweep.space]\n"train.lrr" = [1e-3]', "did you mean 'train.lr'"),
    ('[sweep]\n[sweep.space]\n"train.lr" = ["fast"]', "'train.lr' must be a number"),
    ('[sweep]\n[sweep.space]\n"train.lr" = {low = 1e-3, high = 1e-2}', "a grid needs lists"),
    ('[sweep]\nmethod = "tpe"\n[sweep.space]\n"train.lr" = [1e-3]', "needs 'sweep.trials'"),
    ('[sweep]\nmethd = "tpe"\n[sweep.space]\n"train.lr" = [1e-3]', "unknown key 'sweep.methd'"),
    ('[sweep]\nprune = "always"\n[sweep.space]\n"train.lr" = [1e-3]', "'sweep.prune' is 'always'"),
    ('[sweep]\nmethod = "random"\ntrials = 2\n[sweep.space]\n"train.lr" = {low = 0.0, high = 1.0, log = true}',
     "log = true needs low > 0"),
    ('[sweep]\n[sweep.space]\n"model.n_head" = [2, 3]', "must be divisible"),
    ('[sweep]\nmethod = "grid"', "needs a [sweep.space] table"),
])
def test_the_sweep_table_is_checked_strictly(tmp_path, body, message):
    with pytest.raises(WorkbenchError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_sweep(sweep_file(tmp_path, body))


def test_random_ranges_and_the_run_config_ignore_the_table(tmp_path):
    from workbench.config import load_config

    path = sweep_file(tmp_path, '[sweep]\nmethod = "random"\ntrials = 3\n[sweep.space]\n'
                                '"train.weight_decay" = {low = 0.0, high = 0.2}\n"model.n_layer" = {low = 1, high = 3}')
    cfg, spec = load_sweep(path)
    assert spec.total_trials() == 3 and spec.space["model.n_layer"].integer
    assert load_config(path).model.n_layer == cfg.model.n_layer == 1


def show(store, capsys, *args) -> dict:
    capsys.readouterr()
    assert cli(store, "sweep", "show", *args, "--json") == 0
    return json.loads(capsys.readouterr().out)


def test_a_grid_sweep_runs_every_point_and_names_the_best(store, tmp_path, capsys):
    path = sweep_file(tmp_path, '[sweep]\nmethod = "grid"\n[sweep.space]\n'
                                '"train.lr" = [1e-2, 1e-5]\n"train.seed" = [1, 2]\n')
    assert cli(store, "queue", "start", "--slots", "2", "--poll", "0.2") == 0  # sets the slots
    assert cli(store, "sweep", str(path)) == 0
    wait_for(lambda: show(store, capsys)["state"] == "finished", TIMEOUT, "the sweep to finish")
    out = show(store, capsys)
    assert [t["status"] for t in out["trials"]] == ["finished"] * 4
    assert [t["params"] for t in out["trials"]] == [  # the grid, in the file's order
        {"train.lr": lr, "train.seed": s} for lr in (1e-2, 1e-5) for s in (1, 2)]
    runs = {i.id: i for i in store.list_runs()}
    assert len(runs) == 4 and all(i.status == "finished" for i in runs.values())
    best = min(out["trials"], key=lambda t: t["value"])
    assert out["best"]["trial"] == best["trial"] and best["params"]["train.lr"] == 1e-2
    cfg = store.run(best["run_id"]).config()
    assert (cfg.experiment.sweep, cfg.experiment.trial) == (out["id"], best["trial"])
    capsys.readouterr()
    assert cli(store, "sweep", "show") == 0
    assert f"best: trial {best['trial']}" in capsys.readouterr().out
    wait_for(lambda: scheduler_pid(store) is None, 30, "the scheduler to exit")


def test_a_median_pruned_sweep_prunes_a_far_too_small_lr(store, tmp_path, capsys):
    path = sweep_file(tmp_path, '[sweep]\nmethod = "grid"\nprune = "median"\nstartup_trials = 1\n'
                                '[sweep.space]\n"train.lr" = [1e-2, 1e-7]\n',
                      train__max_steps=40, eval__interval=10, train__schedule="constant")
    assert cli(store, "queue", "start", "--slots", "1", "--poll", "0.2") == 0
    assert cli(store, "sweep", str(path)) == 0
    wait_for(lambda: show(store, capsys)["state"] == "finished", TIMEOUT, "the sweep to finish")
    good, bad = show(store, capsys)["trials"]
    assert good["status"] == "finished" and bad["status"] == "pruned"
    info = store.run(bad["run_id"]).info()
    assert info.summary["step"] < 40 and "pruned by the sweep" in info.reason


def test_readme_has_the_sweep_reference():
    from tests.conftest import ROOT
    from workbench.sweep_config import reference_markdown

    assert reference_markdown() in (ROOT / "README.md").read_text(), "run scripts/config_reference.py"


def fake_trial_runs(store, sweep_id, values: list[float]) -> list:
    """Play the scheduler and trainer: each waiting trial 'finishes' with the next value."""
    from workbench.queue import Queue
    from workbench.sweep import advance

    queue, params = Queue(store), []
    for k, value in enumerate(values):
        (entry,) = queue.entries(("waiting",), sweep=sweep_id)
        cfg = entry.frozen_config()
        params.append(cfg)
        run = store.create_run(store.new_run_id(f"trial{k}"), cfg)
        with run.writer() as w:
            w.scalars(10, 100, {"eval/val_loss": value})
        run.mark_ended("finished")
        queue.mark_running(entry.id, run.id)
        queue.mark_done(entry.id)
        advance(store, sweep_id)
    return params


def test_tpe_samples_ranges_and_asks_until_its_trials_are_done(tmp_path):
    from workbench.store import RunStore
    from workbench.sweep import create, read_info, trial_rows

    store = RunStore(tmp_path / "runs")
    path = sweep_file(tmp_path, '[sweep]\nmethod = "tpe"\ntrials = 4\nseed = 3\n[sweep.space]\n'
                                '"train.lr" = {low = 1e-4, high = 1e-2, log = true}\n"model.n_layer" = {low = 1, high = 3}\n'
                                '"model.activation" = ["gelu", "relu"]\n')
    info = create(store, str(path))
    cfgs = fake_trial_runs(store, info.id, [3.0, 2.5, 2.8, 2.6])
    assert all(1e-4 <= c.train.lr <= 1e-2 and c.model.n_layer in (1, 2, 3) for c in cfgs)
    assert [(c.experiment.sweep, c.experiment.trial) for c in cfgs] == [(info.id, n) for n in range(4)]
    assert read_info(store, info.id).state == "finished"
    rows = trial_rows(store, info)
    assert [r.status for r in rows] == ["finished"] * 4 and [r.number for r in rows if r.best] == [1]


def test_pruning_reports_at_evaluations_and_stopping_a_sweep_empties_its_queue(tmp_path):
    from workbench.queue import Queue
    from workbench.store import RunStore
    from workbench.sweep import Pruning, create, read_info, stop

    store = RunStore(tmp_path / "runs")
    path = sweep_file(tmp_path, '[sweep]\nprune = "median"\nstartup_trials = 1\n[sweep.space]\n'
                                '"train.seed" = [1, 2, 3]\n')
    info = create(store, str(path))
    first = Queue(store).entries(("waiting",))[0].frozen_config()
    pruning = Pruning.for_run(first, store.root / "any-run")
    assert not pruning.should_stop(10, {"eval/val_loss": 2.0})  # nothing to compare with yet
    assert not pruning.should_stop(10, {"eval/train_loss": 9.0})  # not the sweep's metric
    fake_trial_runs(store, info.id, [2.0])
    second = Queue(store).entries(("waiting",))[0].frozen_config()
    assert Pruning.for_run(second, store.root / "x").should_stop(10, {"eval/val_loss": 4.0})

    assert stop(store, info.id) == []  # no trial was running
    assert read_info(store, info.id).state == "stopped" and Queue(store).entries() == []
    with pytest.raises(WorkbenchError, match="not active"):
        stop(store, info.id)
