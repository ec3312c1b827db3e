"""The scheduler: one process per run store that starts queued runs as GPUs free up.

It runs detached like the trainers (`workbench queue start` spawns it; `queue add`,
`queue resume`, `sweep` and the TUI do too) and holds an flock on
runs/.queue/scheduler.lock while it lives, so the next command finds it instead of
starting a second one. Each tick it
  1. marks entries whose run ended as done, pausing the queue when a run died within
     QUICK_DEATH_S of its start (a broken entry must not burn through the queue),
  2. moves sweeps on (results told to Optuna, new trials queued: workbench/sweep.py),
  3. starts waiting entries in order while GPUs (or CPU slots) are free.
It exits when nothing runs and nothing waits (or the queue is paused). Killed at any
moment, it loses nothing: an entry is claimed (with its reserved run id) before its
run starts, and a claimed entry whose run never started goes back to waiting.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path

from workbench import launch
from workbench.errors import WorkbenchError
from workbench.gpus import list_gpus
from workbench.placement import choose, gpus_wanted
from workbench.queue import Entry, Queue, queue_dir
from workbench.store import RunStore, run_id_problem

QUICK_DEATH_S = 30.0  # from the launch, so it includes importing torch (seconds on a busy box)
FAILED = ("failed", "crashed", "diverged")


def lock_path(store: RunStore) -> Path:
    return queue_dir(store) / "scheduler.lock"


def log_path(store: RunStore) -> Path:
    return queue_dir(store) / "scheduler.log"


def scheduler_pid(store: RunStore) -> int | None:
    """The pid of this store's scheduler, or None when none holds the lock."""
    path = lock_path(store)
    if not path.exists():
        return None
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            text = fh.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fh, fcntl.LOCK_UN)
        return None


def ensure_scheduler(store: RunStore, slots: int | None = None, poll: float | None = None) -> tuple[int, bool]:
    """Start the store's scheduler unless one runs: (pid, started now)."""
    queue = Queue(store)
    if slots is not None:
        queue.set_setting("slots", str(slots))
    if poll is not None:
        queue.set_setting("poll", str(poll))
    pid = scheduler_pid(store)
    if pid is not None:
        return pid, False
    cmd, env = launch.child_command(["--runs-dir", str(store.root), "queue", "start", "--foreground"])
    queue_dir(store).mkdir(parents=True, exist_ok=True)
    with open(log_path(store), "ab") as log, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(cmd, stdin=devnull, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env, close_fds=True)
    launch.reap(proc)
    return proc.pid, True


def launched(run_id: str) -> bool:
    """Is a process of this run alive, by its command line (`workbench run … --run-id ID`)?"""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "--run-id" in cmd and run_id in cmd:
            return True
    return False


def say(text: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}", flush=True)


class Scheduler:
    def __init__(self, store: RunStore):
        self.store = store
        self.queue = Queue(store)

    def slots(self) -> int:
        return max(1, int(self.queue.setting("slots") or 1))

    def poll_interval(self) -> float:
        return float(self.queue.setting("poll") or 1.0)

    def tick(self) -> bool:
        """One round; False when there is nothing left to do."""
        self.reconcile()
        self.advance_sweeps()  # after reconcile: a run that just ended is told at once
        if not self.queue.paused()[0]:
            self.start_waiting(self.queue.entries(("running",)))
        return self.has_work()

    def has_work(self) -> bool:
        from workbench.sweep import active_sweeps

        if self.queue.entries(("running",)):
            return True
        return not self.queue.paused()[0] and bool(self.queue.entries(("waiting",)) or active_sweeps(self.store))

    def advance_sweeps(self) -> None:
        from workbench.sweep import active_sweeps, advance

        for sweep_id in active_sweeps(self.store):
            try:
                advance(self.store, sweep_id)
            except WorkbenchError as e:
                say(f"sweep {sweep_id}: {e}")

    def reconcile(self) -> None:
        for e in self.queue.entries(("running",)):
            if run_id_problem(e.run_id):
                self.queue.mark_done(e.id)
                continue
            run = self.store.run(e.run_id)
            if not run.path.is_dir():  # deleted by hand: done, never started again
                self.queue.mark_done(e.id)
                continue
            info = run.info()
            if info.status in ("crashed", "damaged") and not run.db_path.exists() and not launched(e.run_id):
                # a scheduler died while starting it, before its trainer wrote anything: it never ran
                shutil.rmtree(run.path, ignore_errors=True)
                self.queue.mark_waiting(e.id)
                say(f"entry {e.id}: its run never started; waiting again")
                continue
            if info.status == "running":
                continue
            self.queue.mark_done(e.id)
            say(f"entry {e.id}: {e.run_id} {info.status}")
            self.pause_on_quick_death(e, info)

    def pause_on_quick_death(self, e: Entry, info) -> None:
        if info.status not in FAILED or e.started is None:
            return
        try:
            ended = info.ended or self.store.run(e.run_id).info_path.stat().st_mtime
        except OSError:
            ended = time.time()
        if ended - e.started < QUICK_DEATH_S:
            reason = (f"{e.run_id} (entry {e.id}) {info.status} {ended - e.started:.0f} s after it started: "
                      f"{info.reason or 'see its train.log'}")
            self.queue.set_paused(True, reason)
            say(f"paused: {reason}")

    def start_waiting(self, running: list[Entry]) -> None:
        gpu_list = list_gpus()
        infos = launch.running_infos(self.store)
        cpu_busy = sum(1 for e in running if e.gpus == 0 or not gpu_list)
        for e in self.queue.entries(("waiting",)):
            try:
                cfg = e.frozen_config()
            except WorkbenchError as err:
                self.queue.set_paused(True, f"entry {e.id}: {err}")
                say(f"paused: entry {e.id}: {err}")
                return
            on_cpu = gpus_wanted(cfg) == 0 or not gpu_list
            if on_cpu and cpu_busy >= self.slots():
                return
            placement = choose(cfg, infos, gpu_list)
            if placement is None:
                return  # in order: the head of the queue waits for its GPUs
            if not self.start(e, cfg, placement):
                return
            cpu_busy += on_cpu
            infos = launch.running_infos(self.store)

    def start(self, e: Entry, cfg, placement) -> bool:
        run_id = self.store.new_run_id(e.name or cfg.experiment.name)
        if not self.queue.mark_running(e.id, run_id):  # removed meanwhile
            shutil.rmtree(self.store.run(run_id).path, ignore_errors=True)
            return True
        try:
            launch.start_run(self.store, e.experiment_file or "queued", e.overrides, cfg=cfg,
                             placement=placement, run_id=run_id)
        except (WorkbenchError, OSError) as err:
            shutil.rmtree(self.store.run(run_id).path, ignore_errors=True)
            self.queue.mark_waiting(e.id)
            self.queue.set_paused(True, f"entry {e.id} could not start: {err}")
            say(f"paused: entry {e.id} could not start: {err}")
            return False
        gpus = ",".join(map(str, placement.gpus)) or "cpu"
        say(f"entry {e.id}: started {run_id} on {gpus}")
        return True


def serve(store: RunStore) -> int:
    """The scheduler's main loop (in its own process). Returns when the queue is empty."""
    queue_dir(store).mkdir(parents=True, exist_ok=True)
    fh = open(lock_path(store), "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another scheduler serves this store
    fh.truncate(0)
    fh.write(str(os.getpid()))
    fh.flush()
    sched = Scheduler(store)
    say(f"scheduler {os.getpid()} serving {store.root} ({sched.slots()} CPU slot(s))")
    while True:
        if sched.tick():
            time.sleep(sched.poll_interval())
            continue
        # Let go of the lock, then look once more: an entry added while we decided to
        # stop saw the lock held and started no scheduler, so it is ours to run.
        fcntl.flock(fh, fcntl.LOCK_UN)
        if not sched.has_work():
            say("queue empty; scheduler exits")
            return 0
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # a new scheduler took over
