"""Eight tiny runs at once, each its own trainer process and database, while a reader polls
all of them: no reader error, no run ever seen crashed, every run complete."""

from __future__ import annotations

import os
import signal
import threading

from tests.conftest import tiny_experiment, wait_for, workbench_env
from workbench import launch
from workbench.run_info import ENDED
from workbench.store import RunStore


def poll(store: RunStore, stop: threading.Event, seen: dict, errors: list) -> None:
    while not stop.is_set():
        try:
            for info in store.list_runs():
                seen.setdefault(info.id, set()).add(info.status)
                r = store.run(info.id).reader()
                try:
                    r.series("train/loss")
                    r.last("eval/val_loss")
                finally:
                    r.close()
        except Exception as e:  # noqa: BLE001 - any reader failure fails the test
            errors.append(repr(e))
        stop.wait(0.05)


def test_eight_runs_at_once(tmp_path, monkeypatch):
    for k, v in workbench_env().items():
        monkeypatch.setenv(k, v)
    exp = tiny_experiment(tmp_path, train__max_steps=20, train__log_interval=5, eval__interval=10,
                          sample__interval=-1)
    store = RunStore(tmp_path / "runs")
    stop, seen, errors = threading.Event(), {}, []
    reader = threading.Thread(target=poll, args=(store, stop, seen, errors), daemon=True)
    reader.start()
    runs = []
    try:
        runs = [launch.start_run(store, exp) for _ in range(8)]
        assert len({r.id for r in runs}) == 8
        wait_for(lambda: all(r.info().status in ENDED for r in runs), 240, "all eight runs to end", interval=0.5)
    finally:
        stop.set()
        reader.join(timeout=10)
        for r in runs:
            try:
                os.killpg(r.raw_info().pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError, TypeError):
                pass
    assert not errors, errors[:3]
    for r in runs:
        assert r.info().status == "finished", (r.id, r.info().reason, r.log_path.read_text()[-500:])
        assert seen[r.id] <= {"running", "finished"}, (r.id, seen[r.id])
        rd = r.reader()
        try:
            assert [s for s, _ in rd.series("train/loss")] == [1, 5, 10, 15, 20]
            assert [s for s, _ in rd.series("eval/val_loss")] == [0, 10, 20]  # step 0: before any update
        finally:
            rd.close()


def test_a_run_that_ends_between_two_reads_is_not_called_crashed(tmp_path, monkeypatch):
    """The race the eight runs found under load: a reader reads run.json ('running'), the trainer
    writes 'finished' and exits, the reader finds the lock free. run.json is read again then."""
    from workbench import run_lock
    from workbench.config import Config
    from workbench.run_info import RunInfo

    store = RunStore(tmp_path / "runs")
    run = store.create_run("t-1", Config())
    run.write_info(RunInfo(id="t-1", status="running", pid=os.getpid()))
    (run.path / run_lock.LOCK_NAME).touch()

    def trainer_ends_meanwhile(folder):
        run.write_info(RunInfo(id="t-1", status="finished", reason="reached train.max_steps (20)"))
        return False  # and its lock is gone

    monkeypatch.setattr(run_lock, "is_held", trainer_ends_meanwhile)
    info = run.info()
    assert (info.status, info.reason) == ("finished", "reached train.max_steps (20)")
    monkeypatch.setattr(run_lock, "is_held", lambda folder: False)
    run.write_info(RunInfo(id="t-1", status="running", pid=os.getpid()))
    assert run.info().status == "crashed"  # gone without a word: still crashed
