"""One trainer per run: the run's lock refuses a second one, and tells the living from the dead."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import cli
from tests.test_trainer import start, tiny_cfg
from workbench.store import RunStore
from workbench.trainer import train


def stopped_run(tmp_path):
    cfg = tiny_cfg(tmp_path, train__max_steps=6, eval__interval=0, sample__interval=-1)
    run = start(tmp_path, cfg)
    assert train(cfg, run).status == "finished"
    run.update_info(status="stopped", reason="stopped by SIGTERM at step 6")
    return run


def test_a_second_trainer_is_refused(tmp_path, capsys):
    run = stopped_run(tmp_path)
    runs = str(run.path.parent)
    with run.lock().acquire():  # as a trainer holds it
        for args in (("run", "--resume", run.id), ("resume", run.id), ("resume", run.id, "--fg")):
            code, _, err = cli(capsys, *args, "--runs-dir", runs, "--set", "train.max_steps=20")
            assert code == 2, args
            assert len(err.strip().splitlines()) == 1 and run.id in err, err
    assert run.info().status == "stopped"


def test_liveness_is_the_lock(tmp_path):
    run = stopped_run(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    run.update_info(status="running", pid=int(dead), pid_start_time=None)
    assert run.info().status == "crashed"  # the lock file exists and nobody holds it
    with run.lock().acquire():
        assert run.info().status == "running"
        listed = {i.id: i.status for i in RunStore(run.path.parent).list_runs()}
        assert listed[run.id] == "running"
    assert run.info().status == "crashed"
