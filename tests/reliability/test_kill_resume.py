"""kill -9, then resume: every point recorded up to the checkpoint is still there, so the
series has a point at every log interval; a half-written checkpoint temp file is cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess

from tests.conftest import cli, tiny_experiment, wait_for, workbench_cmd, workbench_env
from workbench.store import RunStore


def test_kill_9_then_resume_leaves_no_gap(tmp_path, capsys):
    # checkpoints every 7 steps, logs every 5, evaluations every 10: they rarely line up
    exp = tiny_experiment(tmp_path, train__max_steps=30, train__log_interval=5, checkpoint__interval=7,
                          eval__interval=10, sample__interval=-1)
    runs = tmp_path / "runs"
    proc = subprocess.Popen(workbench_cmd("run", str(exp), "--runs-dir", str(runs)), env=workbench_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        run = wait_for(lambda: RunStore(runs).runs(), 60, "the run folder")[0]
        last = run.path / "checkpoints" / "last.pt"
        first = wait_for(lambda: last.exists() and last.stat().st_ino, 90, "a checkpoint", interval=0.005)
        # kill the moment the next checkpoint lands: the metrics writer would still be buffering
        wait_for(lambda: last.stat().st_ino != first, 60, "the next checkpoint", interval=0.005)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert run.info().status == "crashed"
    r = run.reader()
    (run.checkpoints_dir / ".last.pt.tmp99999").write_bytes(b"half")  # as a kill mid-save leaves it
    code, _, _ = cli(capsys, "resume", run.id, "--fg", "--runs-dir", str(runs))
    assert code == 0 and run.info().status == "finished"
    assert not list(run.checkpoints_dir.glob(".*tmp*"))
    steps = [s.step for s in r.scalars_since(0, keys=["train/loss"], limit=10**6)[0]]
    assert steps == sorted(set(steps)), "a step was logged twice"
    assert set(range(5, 31, 5)) <= set(steps), f"gap in train/loss: {steps}"
    evals = [s for s, _ in r.series("eval/val_loss")]
    assert evals == [0, 10, 20, 30]  # step 0 (before any update) once: a resume does not repeat it
    r.close()


class Killed(BaseException):
    """Stands for kill -9 the moment a checkpoint is on disk: nothing after it runs, and what
    the metrics writer had not committed is lost."""


def test_points_before_a_checkpoint_are_committed_with_it(tmp_path, monkeypatch):
    import workbench.checkpoint as checkpoint
    from tests.test_trainer import start, tiny_cfg
    from workbench.metrics import MetricsWriter
    from workbench.trainer import train

    cfg = tiny_cfg(tmp_path, train__max_steps=30, train__log_interval=5, checkpoint__interval=7,
                   eval__interval=10, sample__interval=-1)
    run = start(tmp_path, cfg)
    real_save = checkpoint.save

    def save_then_die(path, state):
        real_save(path, state)
        if state["step"] >= 14:
            raise Killed

    monkeypatch.setattr(checkpoint, "save", save_then_die)
    # the writer's own thread never commits: only what the trainer flushes reaches the disk
    monkeypatch.setattr(type(run), "writer", lambda self, flush_interval=1.0: MetricsWriter(self.db_path, 3600))
    try:
        train(cfg, run)
    except Killed:
        pass
    monkeypatch.undo()
    assert train(cfg, run, resume=True).status == "finished"
    r = run.reader()
    try:
        steps = [s.step for s in r.scalars_since(0, keys=["train/loss"], limit=10**6)[0]]
        assert set(range(5, 31, 5)) <= set(steps), f"gap in train/loss: {steps}"
        assert [s for s, _ in r.series("eval/val_loss")] == [0, 10, 20, 30]
    finally:
        r.close()
