"""Start, resume and stop trainer processes from a viewer (the TUI or the CLI).

The trainer runs as `python -m workbench run …` in its own session, stdin from
/dev/null, output into the run's train.log: it survives the TUI and the SSH link.
The viewer picks the run id first, so it can show the run before the trainer
has written anything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from workbench.command_file import is_command_file, load_command
from workbench.config import check_runnable, load_config
from workbench.errors import WorkbenchError
from workbench.store import Run, RunStore, process_start_time


def child_command(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """`python -m workbench ARGV` and its environment: the child imports this same workbench,
    wherever it came from, with this interpreter."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    pkg_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH", "")) if p)
    return [sys.executable, "-m", "workbench", *argv], env


def _spawn(run: Run, argv: list[str]) -> int:
    cmd, env = child_command(argv)
    with open(run.log_path, "ab") as log, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(cmd, stdin=devnull, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env, close_fds=True)
    # The trainer stays our child until we exit: collect it when it ends, so it never lingers
    # as a zombie of a long-lived viewer (the TUI). A daemon thread: it never holds us up.
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    return proc.pid


def start_run(store: RunStore, experiment_file: str | Path, overrides: list[str] | tuple = (),
              name: str | None = None) -> Run:
    """Validate the experiment here (errors show at once), reserve a run id, start the trainer
    (or, for a [command] experiment, the runner of that command)."""
    if is_command_file(experiment_file):
        return start_command(store, experiment_file, overrides, name)
    cfg = load_config(experiment_file, overrides)
    check_runnable(cfg, str(experiment_file))
    run_id = store.new_run_id(name or cfg.experiment.name)
    run = store.run(run_id)
    argv = ["run", str(experiment_file), "--run-id", run_id, "--runs-dir", str(store.root)]
    for o in overrides:
        argv += ["--set", o]
    if name:
        argv += ["--name", name]
    # run.json before the child exists, so a viewer can show the run at once
    run.update_info(id=run_id, experiment=cfg.experiment.name, experiment_file=str(experiment_file),
                    overrides=list(overrides),
                    status="running", started=time.time(), max_steps=cfg.train.max_steps or None)
    pid = _spawn(run, argv)
    run.update_info(pid=pid, pgid=pid, pid_start_time=process_start_time(pid))
    return run


def start_command(store: RunStore, experiment_file: str | Path, overrides: list[str] | tuple = (),
                  name: str | None = None) -> Run:
    spec = load_command(experiment_file)
    if overrides:
        raise WorkbenchError(f"{experiment_file}: a [command] experiment takes no --set overrides; "
                             "change its command.argv")
    run_id = store.new_run_id(name or spec.name)
    run = store.run(run_id)
    argv = ["run", str(experiment_file), "--run-id", run_id, "--runs-dir", str(store.root)]
    if name:
        argv += ["--name", name]
    run.update_info(id=run_id, kind="command", experiment=name or spec.name,
                    experiment_file=str(experiment_file), status="running", started=time.time())
    pid = _spawn(run, argv)
    run.update_info(pid=pid, pgid=pid, pid_start_time=process_start_time(pid))
    return run


def resume_run(store: RunStore, run: Run) -> Run:
    info, _ = run.overview(run.info())  # also reads metrics.sqlite: a corrupt one is damage
    if info.status == "running":
        raise WorkbenchError(f"{run.id} is still running; stop it first with `workbench stop {run.id}`")
    if info.status == "damaged":
        raise WorkbenchError(f"{run.id} is damaged: {info.reason}")
    if not run.checkpoint("last").exists():
        raise WorkbenchError(f"{run.id} has no checkpoint to resume from ({run.checkpoint('last')})")
    pid = _spawn(run, ["run", "--resume", run.id, "--runs-dir", str(store.root)])
    run.update_info(status="running", reason="", ended=None, pid=pid, pgid=pid,
                    pid_start_time=process_start_time(pid))
    return run


def stop_run(run: Run, timeout: float = 60.0, poll: float = 0.2) -> str:
    """SIGTERM the run's process group; wait until it says it stopped. Returns the final status."""
    info = run.info()
    if info.status != "running":
        raise WorkbenchError(f"{run.id} is not running (status: {info.status})")
    try:
        if info.kind == "command" or not info.pgid:
            # a command's runner passes the stop on to the command's group (then SIGKILL after a
            # grace period); a script that does not lead its process group gets it alone
            os.kill(info.pid, signal.SIGTERM)
        else:
            os.killpg(info.pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    except PermissionError:
        raise WorkbenchError(f"not allowed to signal {run.id}'s process {info.pid}") from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = run.info()
        if info.status != "running":
            return info.status
        time.sleep(poll)
    raise WorkbenchError(f"{run.id} did not stop within {timeout:.0f} s (pid {info.pid}); it may be "
                         f"saving a large checkpoint. Check again with `workbench show {run.id}`, "
                         f"or kill it with `kill -9 -{info.pgid or info.pid}`")
