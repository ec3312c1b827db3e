"""The queue and its scheduler with real trainer processes (tiny CPU runs).

Every wait has a timeout; the scheduler and any run still going are killed in a finally.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.conftest import wait_for, workbench_env
from tests.test_trainer import tiny_cfg
from workbench.cli import main
from workbench.config import config_to_toml
from workbench.queue import Queue
from workbench.scheduler import scheduler_pid
from workbench.store import RunStore

TIMEOUT = 240


def write_tiny(tmp_path: Path, name: str = "tiny", **sections) -> Path:
    defaults = dict(train__max_steps=10, train__warmup_steps=0, eval__interval=0, eval__batches=1,
                    sample__interval=-1)
    cfg = tiny_cfg(tmp_path, **{**defaults, **sections})
    path = tmp_path / f"{name}.toml"
    text = config_to_toml(cfg).replace('name = "t"', f'name = "{name}"')
    path.write_text(text)
    return path


@pytest.fixture
def store(tmp_path, monkeypatch):
    for k, v in workbench_env().items():
        monkeypatch.setenv(k, v)
    store = RunStore(tmp_path / "runs")
    yield store
    kill_everything(store)


def kill_everything(store: RunStore) -> None:
    pid = scheduler_pid(store)
    if pid and pid > 0:
        os.kill(pid, signal.SIGKILL)
    for info in store.list_runs(status="running"):
        try:
            os.killpg(info.pgid or info.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, TypeError):
            pass


def cli(store: RunStore, *args: str) -> int:
    return main([*args, "--runs-dir", str(store.root)])


def all_done(store: RunStore, n: int) -> bool:
    q = Queue(store)
    return len(q.entries(("done",))) == n and not q.entries()


def intervals(store: RunStore) -> list[tuple[float, float]]:
    infos = store.list_runs()
    assert all(i.status == "finished" for i in infos), [(i.id, i.status, i.reason) for i in infos]
    return sorted((i.started, i.ended) for i in infos)


def most_at_once(spans: list[tuple[float, float]]) -> int:
    return max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)


def test_one_slot_runs_one_after_another_and_survives_a_killed_scheduler(store, tmp_path):
    exp = write_tiny(tmp_path)
    assert cli(store, "queue", "add", str(exp), "--repeat", "3", "--no-start") == 0
    exp.write_text("not even TOML")  # entries keep the config they were queued with
    assert cli(store, "queue", "start", "--slots", "1", "--poll", "0.2") == 0
    first = wait_for(lambda: scheduler_pid(store), 30, "the scheduler")
    assert cli(store, "queue", "start") == 0 and scheduler_pid(store) == first  # found, not doubled

    # kill the scheduler while the first run trains; the run goes on, nothing is lost
    wait_for(lambda: Queue(store).entries(("running",)), TIMEOUT, "a running entry")
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: scheduler_pid(store) is None, 30, "the scheduler to die")
    assert cli(store, "queue", "start", "--poll", "0.2") == 0

    wait_for(lambda: all_done(store, 3), TIMEOUT, "three entries done")
    wait_for(lambda: scheduler_pid(store) is None, 30, "the scheduler to exit")
    done = Queue(store).entries(("done",))
    assert len({e.run_id for e in done}) == 3
    spans = intervals(store)
    assert len(spans) == 3 and most_at_once(spans) == 1


def test_two_slots_run_two_at_a_time(store, tmp_path):
    exp = write_tiny(tmp_path, train__max_steps=30)
    assert cli(store, "queue", "start", "--slots", "2", "--poll", "0.2") == 0  # nothing queued: exits
    assert cli(store, "queue", "add", str(exp), "--repeat", "3", "--set", "train.seed=7") == 0
    wait_for(lambda: all_done(store, 3), TIMEOUT, "three entries done")
    assert most_at_once(intervals(store)) == 2
    assert all(store.run(e.run_id).config().train.seed == 7 for e in Queue(store).entries(("done",)))


def test_a_run_that_dies_at_once_pauses_the_queue(store, tmp_path, capsys):
    exp = write_tiny(tmp_path)
    small = tmp_path / "small.txt"
    small.write_text("too little text for a block\n")  # the trainer fails on it at once
    assert cli(store, "queue", "add", str(exp), "--set", f"data.dataset='{small}'", "--no-start") == 0
    assert cli(store, "queue", "add", str(exp), "--repeat", "2", "--no-start") == 0
    q = Queue(store)
    assert cli(store, "queue", "start", "--poll", "0.2") == 0
    wait_for(lambda: q.paused()[0], TIMEOUT, "the queue to pause")
    wait_for(lambda: scheduler_pid(store) is None, 30, "the scheduler to exit")
    assert "failed" in q.paused()[1] and "fewer than model.block_size" in q.paused()[1]
    assert len(q.entries(("waiting",))) == 2  # the rest did not burn
    capsys.readouterr()
    assert cli(store, "queue") == 0
    assert "PAUSED" in capsys.readouterr().out
