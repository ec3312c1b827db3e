"""The user's day from the command line: start detached, stop, resume, stop again.

Real trainer processes (as the TUI starts them); every wait has a timeout and
the children are killed in a finally.
"""

from __future__ import annotations

import os
import signal

from tests.conftest import wait_for, workbench_env
from tests.test_trainer import tiny_cfg
from workbench.cli import main
from workbench.config import config_to_toml
from workbench.launch import start_run
from workbench.store import RunStore


def test_start_stop_resume_stop(tmp_path, monkeypatch, capsys):
    for k, v in workbench_env().items():
        monkeypatch.setenv(k, v)
    exp = tmp_path / "long.toml"
    exp.write_text(config_to_toml(tiny_cfg(tmp_path, train__max_steps=100000, train__log_interval=5,
                                           system__telemetry_interval=0.2)))
    store = RunStore(tmp_path / "runs")
    run = start_run(store, exp)
    pids = []
    try:
        assert run.info().status == "running"  # visible before the trainer has written anything
        pids.append(run.info().pid)
        reader = run.reader()
        wait_for(lambda: (reader.last("train/loss") or 0) and reader.last("train/loss").step >= 20, 90,
                 "20 steps")
        # the sampler runs in the detached trainer (waited for: 20 steps can take under its interval)
        wait_for(lambda: reader.telemetry_keys(), 60, "the first telemetry sample")
        assert main(["stop", run.id, "--runs-dir", str(store.root), "--timeout", "60"]) == 0
        first = run.info()
        assert first.status == "stopped" and run.checkpoint("last").exists()
        stopped_at = reader.last("train/loss").step

        assert main(["resume", run.id[:6], "--runs-dir", str(store.root)]) == 0
        assert "resumed" in capsys.readouterr().out
        pids.append(run.info().pid)
        wait_for(lambda: reader.last("train/loss").step >= stopped_at + 20, 90, "20 more steps")
        assert run.info().status == "running"
        assert main(["stop", run.id, "--runs-dir", str(store.root), "--timeout", "60"]) == 0
        assert run.info().status == "stopped"

        steps = [s.step for s in reader.scalars_since(0, keys=["train/loss"], limit=10**6)[0]]
        assert steps == sorted(set(steps)), "a step was logged twice across the resume"
        kinds = [e.kind for e in reader.events()]
        assert kinds.count("stop") == 2 and "resume" in kinds
        assert "Traceback" not in run.log_path.read_text()
    finally:
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError, TypeError):
                pass
