"""A stop at any moment ends 'stopped', never 'crashed': SIGHUP (the terminal closed) like
SIGTERM, a stop during start-up, a stop right after resuming a finished run."""

from __future__ import annotations

import os
import signal
import subprocess

from tests.conftest import tiny_experiment, wait_for, workbench_cmd, workbench_env
from tests.test_trainer import start, tiny_cfg
from workbench import launch
from workbench.checkpoint import load
from workbench.store import RunStore
from workbench.trainer import train

LONG = dict(train__max_steps=100000, train__log_interval=5, eval__interval=0, sample__interval=-1)


def kill_group(*pids):
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, TypeError):
            pass


def workbench_run(tmp_path):
    """`workbench run` of a long tiny experiment in its own session: (process, runs folder)."""
    exp = tiny_experiment(tmp_path, **LONG)
    runs = tmp_path / "runs"
    proc = subprocess.Popen(workbench_cmd("run", str(exp), "--runs-dir", str(runs)), env=workbench_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    return proc, runs


def test_sighup_stops_with_a_checkpoint(tmp_path):
    proc, runs = workbench_run(tmp_path)
    try:
        run = wait_for(lambda: RunStore(runs).runs(), 60, "the run folder")[0]
        r = run.reader()
        wait_for(lambda: r.last("train/loss") and r.last("train/loss").step >= 10, 60, "10 steps")
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=60) == 128 + signal.SIGHUP
        r.close()
    finally:
        kill_group(proc.pid)
    info = run.info()
    assert info.status == "stopped" and "SIGHUP" in info.reason
    assert load(run.checkpoint("last"))["step"] >= 10


def test_stop_during_start_up(tmp_path, monkeypatch):
    for k, v in workbench_env().items():
        monkeypatch.setenv(k, v)
    store = RunStore(tmp_path / "runs")
    run = launch.start_run(store, tiny_experiment(tmp_path, **LONG))
    try:
        assert launch.stop_run(run, timeout=60) == "stopped"  # within milliseconds of the start
    finally:
        kill_group(run.raw_info().pid)
    info = run.info()
    assert info.status == "stopped" and "before the first step" in info.reason
    assert "Traceback" not in run.log_path.read_text()


def test_ctrl_c_while_workbench_run_starts(tmp_path):
    proc, runs = workbench_run(tmp_path)
    try:
        run = wait_for(lambda: RunStore(runs).runs(), 60, "the run folder", interval=0.01)[0]
        proc.send_signal(signal.SIGINT)  # torch is still importing
        assert proc.wait(timeout=60) == 128 + signal.SIGINT
    finally:
        kill_group(proc.pid)
    assert run.info().status == "stopped"


def test_resume_of_a_finished_run_then_stop(tmp_path, monkeypatch):
    for k, v in workbench_env().items():
        monkeypatch.setenv(k, v)
    cfg = tiny_cfg(tmp_path, train__max_steps=5, eval__interval=0, sample__interval=-1)
    run = start(tmp_path, cfg)
    assert train(cfg, run).status == "finished"
    store = RunStore(run.path.parent)
    launch.resume_run(store, run, ["train.max_steps=100000"])
    try:
        assert launch.stop_run(run, timeout=60) == "stopped"
    finally:
        kill_group(run.raw_info().pid)
    assert run.info().status == "stopped"
    assert run.config().train.max_steps == 100000  # the extension holds: a resume goes on from here
