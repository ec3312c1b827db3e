"""Reading the queue and sweeps for the TUI, in worker threads only (as poller.py does for runs)."""

from __future__ import annotations

from workbench.queue import Queue
from workbench.scheduler import scheduler_pid
from workbench.store import RunStore, run_id_problem
from workbench.tui.messages import QueueRow, QueueSnapshot


def queue_snapshot(store: RunStore) -> QueueSnapshot:
    queue = Queue(store)
    rows, n = [], 0
    for e in queue.entries():
        label = e.experiment + (f" t{e.trial}" if e.trial >= 0 else "")
        held = []
        if e.state == "waiting":
            n += 1
        elif not run_id_problem(e.run_id):
            held = store.run(e.run_id).raw_info().gpus
        rows.append(QueueRow(e.id, n if e.state == "waiting" else None, label, e.gpus, e.state, e.run_id,
                             held, e.overrides))
    paused, reason = queue.paused()
    return QueueSnapshot(rows, (reason or "paused") if paused else None, scheduler_pid(store))


def sweep_snapshot(store: RunStore, sweep_id: str | None):
    """(SweepInfo, TrialRows) of a sweep, the newest when `sweep_id` is None."""
    from workbench.sweep import resolve, trial_rows

    info = resolve(store, sweep_id)
    return info, trial_rows(store, info)
