"""Start, resume and stop trainer processes from a viewer (the TUI or the CLI).

The launcher creates the run once: it checks the input (preflight.py), takes the
run's lock, freezes the config into runs/<id>/config.toml and writes run.json.
The trainer, `python -m workbench run --run-id ID`, runs in its own session,
stdin a pipe, output into the run's train.log: it survives the TUI and the SSH
link. It inherits the lock, so from then on it is the run's only writer; it
waits on the pipe until the launcher has written its pid, and it starts with
the stop signals blocked, so a stop at any moment, even during start-up, reaches
its handler (a signal that comes early waits until the handler is installed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from workbench import preflight
from workbench.command_file import is_command_file, load_command
from workbench.config import Config, check_raw, from_dict, load_config, merge, parse_override
from workbench.errors import WorkbenchError
from workbench.outcome import STOP_SIGNALS
from workbench.placement import Placement, place_now
from workbench.run_info import RunInfo, process_start_time
from workbench.run_lock import RunLock
from workbench.store import Run, RunStore


def child_command(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    """`python -m workbench ARGV` and its environment: the child imports this same workbench,
    wherever it came from, with this interpreter."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    pkg_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH", "")) if p)
    return [sys.executable, "-m", "workbench", *argv], env


def _spawn(run: Run, argv: list[str], lock: RunLock | None,
           env_extra: dict[str, str] | None = None) -> subprocess.Popen:
    """The trainer (with the run's lock: it waits on its stdin) or a command's runner (without)."""
    if lock is not None:
        argv = [*argv, "--lock-fd", str(lock.fd)]
    cmd, env = child_command(argv)
    env.update(env_extra or {})  # the GPUs placement chose
    # the trainer starts with the stop signals blocked (inherited across exec) until its handler is in
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS if lock is not None else ())
    try:
        with open(run.log_path, "ab") as log, open(os.devnull, "rb") as devnull:
            proc = subprocess.Popen(cmd, stdin=devnull if lock is None else subprocess.PIPE,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env,
                                    close_fds=True, pass_fds=() if lock is None else (lock.fd,))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    reap(proc)
    return proc


def _hand_over(run: Run, proc: subprocess.Popen) -> None:
    """Record the trainer's pid, then let it go: it waits for its stdin to close."""
    try:
        run.update_info(pid=proc.pid, pgid=proc.pid, pid_start_time=process_start_time(proc.pid))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()


def check_experiment(experiment_file: str | Path, overrides: list[str] | tuple = (),
                     name: str | None = None) -> Config:
    """The experiment's config, checked: errors show at once, before any run folder exists."""
    cfg = load_config(experiment_file, overrides)
    if name:
        cfg.experiment.name = name
    preflight.check(cfg, str(experiment_file))
    return cfg


def reap(proc: subprocess.Popen) -> None:
    """A detached child stays ours until we exit: collect it when it ends, so it never lingers
    as a zombie of a long-lived viewer (the TUI). A daemon thread: it never holds us up."""
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()


def running_infos(store: RunStore) -> list[RunInfo]:
    return [i for i in store.list_runs() if i.status == "running"]


def start_run(store: RunStore, experiment_file: str | Path, overrides: list[str] | tuple = (),
              name: str | None = None, cfg: Config | None = None, placement: Placement | None = None,
              run_id: str | None = None) -> Run:
    """Create the run (config.toml frozen, run.json), pick its GPUs and start its trainer (or,
    for a [command] experiment, the runner of that command). The queue passes the entry's
    frozen `cfg` (the file may have changed since), the GPUs its scheduler chose and the run
    id it reserved."""
    frozen = cfg is not None
    if not frozen and is_command_file(experiment_file):
        return start_command(store, experiment_file, overrides, name)
    if frozen:
        preflight.check(cfg, str(experiment_file))
    else:
        cfg = check_experiment(experiment_file, overrides, name)
    placement = placement or place_now(cfg, running_infos(store))
    run = store.run(run_id or store.new_run_id(cfg.experiment.name))
    with run.lock().acquire() as lock:
        store.create_run(run.id, cfg, experiment_file=None if frozen else experiment_file, overrides=overrides)
        run.update_info(gpus=placement.gpus, experiment_file=str(experiment_file))
        _hand_over(run, _spawn(run, ["run", "--run-id", run.id, "--runs-dir", str(store.root)], lock,
                               placement.env))
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
    _hand_over(run, _spawn(run, argv, None))
    return run


def apply_overrides(cfg: Config, overrides: list[str] | tuple) -> Config:
    """--set on a run's frozen config (a resume that extends it: a larger train.max_steps)."""
    d = cfg.to_dict()
    for text in overrides:
        section, name, value = parse_override(text)
        d = merge(d, check_raw(f"--set {text}", {section: {name: value}}))
    return from_dict(d, where="--set")


def check_resumable(run: Run, overrides: list[str] | tuple = ()) -> Config:
    """The config a resume trains with, or WorkbenchError saying why the run cannot go on.
    Call it holding the run's lock (so 'running' in run.json means a trainer that died)."""
    info, _ = run.overview(run.raw_info())  # also reads metrics.sqlite: a corrupt one is damage
    if info.status == "damaged":
        raise WorkbenchError(f"{run.id} is damaged: {info.reason}")
    if not run.checkpoint("last").exists():
        raise WorkbenchError(f"{run.id} has no checkpoint to resume from ({run.checkpoint('last')})")
    old = run.config()
    cfg = apply_overrides(old, overrides)
    if info.status == "finished" and not extends(old.train, cfg.train):
        key, value = reached_limit(old.train)
        raise WorkbenchError(f"{run.id} is finished ({key}={value}); to train it further, extend it: "
                             f"`workbench resume {run.id} --set {key}=N` with N above {value}")
    return cfg


def reached_limit(t) -> tuple[str, str]:
    """The limit a finished run's [train] section `t` stopped it at: (its key, its value as --set
    writes it)."""
    if t.max_steps:
        return "train.max_steps", str(t.max_steps)
    if t.max_tokens:
        return "train.max_tokens", str(t.max_tokens)
    return "train.max_time", f"{t.max_time:g}"


def extends(old, new) -> bool:
    """Does `new` train past where `old` stopped? (0 means no limit.)"""
    def more(a, b):
        return (a and (not b or b > a)) or False
    return bool(more(old.max_steps, new.max_steps) or more(old.max_tokens, new.max_tokens)
                or more(old.max_time, new.max_time))


def resume_run(store: RunStore, run: Run, overrides: list[str] | tuple = ()) -> Run:
    """Start a trainer that continues `run` from its last checkpoint, in the background."""
    try:
        lock = run.lock().acquire(wait=0.5)
    except WorkbenchError:
        raise WorkbenchError(f"{run.id} is still running; stop it first with `workbench stop {run.id}`") from None
    with lock:
        check_resumable(run, overrides)
        argv = ["run", "--resume", run.id, "--runs-dir", str(store.root)]
        for o in overrides:
            argv += ["--set", o]
        placement = place_now(run.config(), running_infos(store))
        proc = _spawn(run, argv, lock, placement.env)
        try:
            run.mark_resuming(proc.pid, overrides)
            run.update_info(gpus=placement.gpus)
        finally:
            _hand_over(run, proc)
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
