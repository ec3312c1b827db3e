"""`workbench run EXPERIMENT.toml`: train headless into the run store.
`workbench run -- CMD …` (or a [command] experiment file): run your own command and record it
(workbench/command_run.py). `--nproc N`: data-parallel under torchrun (workbench/torchrun.py).

Exit codes: 0 finished, 1 failed, 2 bad input, 3 diverged, 4 pruned by a sweep, 130 stopped by SIGINT,
143 stopped by SIGTERM, 129 stopped by SIGHUP (the run is saved and can be resumed).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from workbench.cli import add_launch, add_overrides, add_runs_dir
from workbench.errors import WorkbenchError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="train an experiment headless (progress bar, or plain lines when piped)",
        description="Train an experiment in this terminal, writing the same run store as the TUI. "
                    "Exit codes: 0 finished, 1 failed, 2 bad input, 3 diverged, 4 pruned by a sweep, 130/143/129 stopped "
                    "by SIGINT/SIGTERM/SIGHUP (a checkpoint is saved; `workbench resume` continues).")
    p.add_argument("experiment", nargs="?", help="experiment TOML file (optional with --resume)")
    add_overrides(p)
    p.add_argument("--name", help="experiment name for the run id (default: the file name)")
    add_runs_dir(p)
    p.add_argument("--resume", metavar="RUN", help="continue RUN (id or unique prefix) from its last "
                                                   "checkpoint; --set train.max_steps=N extends a finished run")
    # the launcher's: run the run it created (runs/<id>/), holding the lock it passes (a trainer)
    p.add_argument("--run-id", help=argparse.SUPPRESS)
    p.add_argument("--lock-fd", type=int, help=argparse.SUPPRESS)
    add_launch(p)
    g = p.add_argument_group(
        "your own command", "`workbench run [options] -- CMD ARG …` runs CMD in its own process group, "
        "shows and records its output (train.log), reads scalars from its printed lines, and passes "
        "its exit code on. A [command] experiment file does the same from the TUI.")
    g.add_argument("--capture", action="append", default=[], metavar="REGEX",
                   help="a regular expression with named groups to read from each line; a group named "
                        "step is the step (repeatable): --capture 'it (?P<step>\\d+) L=(?P<loss>\\S+)'")
    g.add_argument("--env", dest="env_names", action="append", default=[], metavar="NAME",
                   help="record this environment variable's value with the run (repeatable)")
    g.add_argument("--cwd", help="run CMD in this folder (default: here); its git commit and diff are recorded")
    g.add_argument("--test-capture", action="store_true",
                   help="read a saved log from stdin and print the scalars that would be recorded; runs nothing")
    p.set_defaults(func=run, takes_command=True)


def run(args: argparse.Namespace) -> int:
    from workbench.config_checks import processes
    from workbench.distributed import under_torchrun
    from workbench.outcome import STOP_SIGNALS, StopFlag
    from workbench.store import RunStore
    from workbench.torchrun import Nodes

    store = RunStore(args.runs_dir)
    if getattr(args, "cmd_argv", None) or args.test_capture or (args.experiment and _is_command_file(args.experiment)):
        from workbench.command_run import main

        return main(args, store)
    if args.nproc is not None:  # --nproc N is --set system.nproc=N: saved with the run, used on resume
        args.overrides = [*args.overrides, f"system.nproc={args.nproc}"]
    if under_torchrun():
        return _run_rank(args, store)
    nodes = Nodes(args.nnodes, args.node_rank, args.rdzv_endpoint or "")
    nodes.check()
    if nodes.nnodes > 1:
        return _run_nodes(args, nodes, store)
    with StopFlag() as flag:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # a launcher starts us with them blocked
        opened = open_run(args, flag)
        if opened is None:
            print(f"stopped by {signal.Signals(flag.signum).name} before a run was created", file=sys.stderr)
            return 128 + flag.signum
        r, cfg, resume, lock = opened
        if processes(cfg.system) == 1:
            with lock:
                return _train(cfg, r, resume, args, stop=flag)
    with lock:  # several processes: torchrun's ranks train the run made above; we hold its lock
        args.run_id = None if resume else r.id
        return _launch(args, cfg, nodes, store)


def _run_nodes(args: argparse.Namespace, nodes, store) -> int:
    """Several machines: this node's ranks under torchrun; node 0 records the run."""
    if nodes.records or not args.resume:
        cfg = _config(args, store)
    elif args.nproc is None:
        raise WorkbenchError("--resume on a node other than 0 needs --nproc: the run's config is on node 0")
    else:
        cfg = None  # the recorder sends it
    return _launch(args, cfg, nodes, store)


def open_run(args: argparse.Namespace, flag):
    """(run, config, resume, lock) for what the arguments name, the lock held; None when a
    stop signal came before a run folder was made."""
    from workbench import launch
    from workbench.store import RunStore

    store = RunStore(args.runs_dir)
    if args.lock_fd is not None:  # the launcher created the run and hands us its lock
        if not (args.run_id or args.resume):
            raise WorkbenchError("--lock-fd comes with --run-id or --resume")
        r = store.resolve(args.resume) if args.resume else store.run(args.run_id)
        lock = r.lock().adopt(args.lock_fd)
        if not sys.stdin.isatty():
            sys.stdin.buffer.read()  # until the launcher has recorded our pid and closed the pipe
        cfg = launch.apply_overrides(r.config(), args.overrides) if args.resume else r.config()
        return r, cfg, bool(args.resume), lock
    if args.run_id:
        raise WorkbenchError("--run-id is for the launcher; train an experiment with "
                             "`workbench run EXPERIMENT.toml` or continue a run with `workbench resume RUN`")
    if args.resume:
        r = store.resolve(args.resume)
        lock = r.lock().acquire()
        try:
            cfg = launch.check_resumable(r, args.overrides)
            r.mark_resuming(os.getpid(), args.overrides)
        except BaseException:
            lock.release()
            raise
        return r, cfg, True, lock
    if not args.experiment:
        raise WorkbenchError("name an experiment file, e.g. `workbench run experiments/tiny.toml`, "
                             "or use --resume RUN")
    cfg = launch.check_experiment(args.experiment, args.overrides, args.name)
    if flag.signum is not None:
        return None
    r = store.run(store.new_run_id(cfg.experiment.name))
    lock = r.lock().acquire()
    store.create_run(r.id, cfg, experiment_file=args.experiment, overrides=args.overrides)
    return r, cfg, False, lock


def _config(args: argparse.Namespace, store):
    """The run's config: the experiment file with --set, or on --resume the run's own with --set."""
    from workbench.config import load_config
    from workbench.config_checks import check_runnable
    from workbench.launch import apply_overrides

    if args.run_id and store.run(args.run_id).config_path.exists():
        return store.run(args.run_id).config()  # made by `workbench run`, which started torchrun
    if args.resume:
        r = store.resolve(args.resume)
        if not r.checkpoint("last").exists():
            raise WorkbenchError(f"{r.id} has no checkpoint to resume from ({r.checkpoint('last')})")
        return apply_overrides(r.config(), args.overrides) if args.overrides else r.config()
    if not args.experiment:
        raise WorkbenchError("name an experiment file, e.g. `workbench run experiments/tiny.toml`, "
                             "use --resume RUN, or give your own command after --: "
                             "`workbench run -- python train.py`")
    cfg = load_config(args.experiment, args.overrides)
    if args.name:
        cfg.experiment.name = args.name
    check_runnable(cfg, args.experiment)
    return cfg


def _open_run(args: argparse.Namespace, cfg, store):
    """The run folder, created (or reserved by a launcher and filled) or, on resume, reopened."""
    if args.resume:
        r = store.resolve(args.resume)
        if args.overrides:
            r.write_config(cfg)
            r.update_info(overrides=[*r.raw_info().overrides, *args.overrides])
        r.mark_running()
        return r
    if args.run_id and store.run(args.run_id).info_path.exists():
        return store.run(args.run_id)  # made, and locked, by `workbench run`, which started torchrun
    run_id = args.run_id or store.new_run_id(cfg.experiment.name)
    return store.create_run(run_id, cfg, experiment_file=args.experiment, overrides=args.overrides)


def _train(cfg, r, resume: bool, args: argparse.Namespace, dist=None, stop=None) -> int:
    """Train in this process: the progress bar (or plain lines), the summary, the exit code."""
    from workbench.distributed import under_torchrun
    from workbench.progress import Console
    from workbench.trainer import train

    # the launcher sends our output to train.log; run by hand, a copy of the plain lines goes there
    launched = args.lock_fd is not None and not under_torchrun()  # (under torchrun: from `run --nproc`)
    copy_to = None if (launched or not sys.stdout.isatty() and _is_log(sys.stdout, r.log_path)) else str(r.log_path)
    console = Console(cfg.train.max_steps or None, copy_to=copy_to)
    try:
        result = train(cfg, r, resume=resume, console=console, dist=dist, stop=stop)
        console.summary(result.status, result.reason, r.summary(), str(r.path))
    finally:
        console.close()
    if result.bad_input:
        print(f"workbench: error: {result.reason}", file=sys.stderr)
    return result.exit_code


def _launch(args: argparse.Namespace, cfg, nodes, store) -> int:
    """Start this node's ranks under torchrun and wait for them. The recording node reserves
    the run folder first; when a rank fails, it marks the run failed naming the rank."""
    from workbench.config_checks import processes
    from workbench.torchrun import gpu_env, launch

    nproc = processes(cfg.system) if cfg is not None else args.nproc
    argv = ["run", *([args.experiment] if args.experiment else []), "--runs-dir", str(store.root)]
    argv += [a for o in args.overrides for a in ("--set", o)] + (["--name", args.name] if args.name else [])
    run_id = None
    if nodes.records:
        run_id = store.resolve(args.resume).id if args.resume else args.run_id or store.new_run_id(cfg.experiment.name)
        argv += ["--resume", run_id] if args.resume else ["--run-id", run_id]
    elif args.resume:
        argv += ["--resume", args.resume]  # the recording node holds the run; these ranks only train
    print(f"workbench: starting {nproc} processes on this node (node {nodes.node_rank} of {nodes.nnodes}) "
          "under torchrun", file=sys.stderr, flush=True)
    failure = launch(nproc, nodes, argv, gpu_env(cfg.system.device) if cfg is not None else None)
    if failure is None:
        return 0
    if run_id is not None:
        _mark_failed(store.run(run_id), failure)
    return failure.exit_code


def _mark_failed(r, failure) -> None:
    """run.json names the rank that failed first; a run its recorder could not end is ended here."""
    if failure.rank is not None:
        where = f"rank {failure.rank} failed: {failure.why}"
    else:
        where = failure.why or f"the ranks ended (exit code {failure.exit_code}) before the run was recorded"
    info = r.raw_info()
    if info.status == "running" and r.info_path.exists():
        print(f"workbench: error: {where}", file=sys.stderr)
        r.mark_ended("failed", where)
    elif info.status == "failed" and failure.rank is not None and failure.local_rank != 0:
        # the recorder saw only its side of it (a collective that lost its peer)
        r.update_info(reason=f"{where}; rank 0: {info.reason}"[:500])


def _run_rank(args: argparse.Namespace, store) -> int:
    """One rank under torchrun. The recorder opens the run and sends its config to the other ranks,
    which need no run store (on another machine there is none). They exit 0 unless they failed
    themselves: the run's outcome is the recorder's to report."""
    from workbench.config import from_dict
    from workbench.distributed import init

    d = init()
    opened: list = []

    def open_run() -> dict:
        cfg = _config(args, store)
        _check_world(cfg, d.world_size)
        opened.append(_open_run(args, cfg, store))
        return cfg.to_dict()

    try:
        cfg = from_dict(d.from_recorder(open_run), where="the recording rank's config")
        if d.is_recorder:
            return _train(cfg, opened[0], bool(args.resume), args, dist=d)
        from workbench.trainer import train

        result = train(cfg, None, resume=bool(args.resume), dist=d)
        return 1 if result.status == "failed" and not result.bad_input else 0
    except WorkbenchError:
        if d.is_recorder:
            raise
        return 0  # the recorder says what was wrong
    finally:
        d.cleanup()


def _check_world(cfg, world_size: int) -> None:
    dev = cfg.system.device
    if world_size > 1 and isinstance(dev, str) and dev.startswith("cuda:"):
        raise WorkbenchError(f"system.device is {dev!r}, one GPU, for {world_size} ranks; use 'cuda' "
                             f"or a list of GPU indices like {list(range(world_size))}")


def _is_command_file(path: str) -> bool:
    from workbench.command_file import is_command_file

    return is_command_file(path)


def _is_log(stream, log_path) -> bool:
    try:
        return os.path.samefile(f"/proc/self/fd/{stream.fileno()}", log_path)
    except (OSError, ValueError, AttributeError):
        return False
