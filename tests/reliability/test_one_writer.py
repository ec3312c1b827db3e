"""The launcher creates a run once and the trainer trains from the frozen config; bad input
makes no run folder; a run being created never reads as crashed, a crashed one stops ageing."""

from __future__ import annotations

import os
import time

from tests.conftest import cli, tiny_experiment, wait_for, workbench_env
from workbench import launch
from workbench.store import RunStore


def test_bad_input_makes_no_run_folder(tmp_path, capsys, monkeypatch):
    exp = tiny_experiment(tmp_path)
    runs = tmp_path / "runs"
    code, _, err = cli(capsys, "run", str(exp), "--runs-dir", str(runs), "--set", "system.device=cuda:7")
    assert code == 2 and "system.device" in err and "cuda:7" in err
    code, _, err = cli(capsys, "run", str(exp), "--runs-dir", str(runs), "--set", "system.device=[0, 7]")
    assert code == 2 and "system.device" in err and "[0, 7]" in err
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "empty"))
    code, _, err = cli(capsys, "run", str(exp), "--runs-dir", str(runs), "--set", "data.tokenizer='gpt2'")
    assert code == 2 and "GPT-2 BPE" in err and "TIKTOKEN_CACHE_DIR" in err
    assert not runs.exists() or not any(runs.iterdir())


def test_trainer_trains_the_frozen_config(tmp_path, monkeypatch):
    for k, v in workbench_env().items():
        monkeypatch.setenv(k, v)
    exp = tiny_experiment(tmp_path, train__max_steps=12, eval__interval=0, sample__interval=-1)
    store = RunStore(tmp_path / "runs")
    run = launch.start_run(store, exp, ["train.max_steps=8"], name="frozen")
    exp.write_text("this is [not toml")  # the trainer never reads the experiment file again
    wait_for(lambda: run.info().status != "running", 120, "the run to end", interval=0.3)
    info = run.info()
    assert info.status == "finished", (info.reason, run.log_path.read_text()[-800:])
    assert run.config().train.max_steps == 8 and run.config().experiment.name == "frozen"
    r = run.reader()
    try:
        assert r.last("train/loss").step == 8
    finally:
        r.close()


def test_a_run_being_created_is_not_crashed(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.run(store.new_run_id("fresh"))  # the folder exists, run.json not yet
    assert run.info().status == "running"
    assert {i.id: i.status for i in store.list_runs()}[run.id] == "running"
    old = time.time() - 3600
    os.utime(run.path, (old, old))
    assert run.info().status == "crashed"  # left like that for an hour: it is not starting


def test_a_crashed_run_stops_ageing(tmp_path):
    from tests.conftest import write_fake_run

    store = RunStore(tmp_path / "runs")
    run = write_fake_run(store, "gone", status="running", steps=100, started=time.time() - 100)
    run.update_info(pid=2**22 + 12345, pid_start_time=1.0)  # no such process
    run.lock().acquire().release()  # it had a trainer lock, nobody holds it now
    assert run.info().status == "crashed"
    first = run.summary()["wall_time_s"]
    time.sleep(1.1)
    assert run.summary()["wall_time_s"] == first
    assert first is not None and first < 100
