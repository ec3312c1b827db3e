"""`workbench run EXPERIMENT.toml`: train headless into the run store.
`workbench run -- CMD …` (or a [command] experiment file): run your own command and record it
(workbench/command_run.py).

Exit codes: 0 finished, 1 failed, 2 bad input, 3 diverged, 130 stopped by SIGINT,
143 stopped by SIGTERM (the run is saved and can be resumed).
"""

from __future__ import annotations

import argparse
import os
import sys

from workbench.cli import add_overrides, add_runs_dir
from workbench.errors import WorkbenchError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="train an experiment headless (progress bar, or plain lines when piped)",
        description="Train an experiment in this terminal, writing the same run store as the TUI. "
                    "Exit codes: 0 finished, 1 failed, 2 bad input, 3 diverged, 130/143 stopped "
                    "by SIGINT/SIGTERM (a checkpoint is saved; `workbench resume` continues).")
    p.add_argument("experiment", nargs="?", help="experiment TOML file (optional with --resume)")
    add_overrides(p)
    p.add_argument("--name", help="experiment name for the run id (default: the file name)")
    add_runs_dir(p)
    p.add_argument("--run-id", help="use this (already reserved) run folder; the TUI's launcher uses it")
    p.add_argument("--resume", metavar="RUN", help="continue RUN (id or unique prefix) from its last checkpoint")
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


def _apply_overrides(cfg, overrides: list[str]):
    """--set on a resumed run's saved config (e.g. a larger train.max_steps)."""
    from workbench.config import check_raw, from_dict, merge, parse_override

    d = cfg.to_dict()
    for text in overrides:
        section, name, value = parse_override(text)
        d = merge(d, check_raw(f"--set {text}", {section: {name: value}}))
    return from_dict(d, where="--set")


def run(args: argparse.Namespace) -> int:
    from workbench.config import check_runnable, config_to_toml, load_config
    from workbench.store import RunStore

    store = RunStore(args.runs_dir)
    if getattr(args, "cmd_argv", None) or args.test_capture or (args.experiment and _is_command_file(args.experiment)):
        from workbench.command_run import main

        return main(args, store)
    resume = bool(args.resume)
    if resume:
        r = store.resolve(args.resume)
        if not r.checkpoint("last").exists():
            raise WorkbenchError(f"{r.id} has no checkpoint to resume from ({r.checkpoint('last')})")
        cfg = r.config()
        if args.overrides:
            cfg = _apply_overrides(cfg, args.overrides)
            tmp = r.config_path.with_name(".config.toml.tmp")
            tmp.write_text(config_to_toml(cfg))
            os.replace(tmp, r.config_path)
        r.mark_running()
    else:
        if not args.experiment:
            raise WorkbenchError("name an experiment file, e.g. `workbench run experiments/tiny.toml`, "
                                 "or use --resume RUN")
        cfg = load_config(args.experiment, args.overrides)
        if args.name:
            cfg.experiment.name = args.name
        check_runnable(cfg, args.experiment)
        run_id = args.run_id or store.new_run_id(cfg.experiment.name)
        r = store.create_run(run_id, cfg, experiment_file=args.experiment)

    from workbench.progress import Console
    from workbench.trainer import train

    # the launcher sends our output to train.log; run by hand, a copy of the plain lines goes there
    copy_to = None if (args.run_id or not sys.stdout.isatty() and _is_log(sys.stdout, r.log_path)) else str(r.log_path)
    console = Console(cfg.train.max_steps or None, copy_to=copy_to)
    try:
        result = train(cfg, r, resume=resume, console=console)
        console.summary(result.status, result.reason, r.summary(), str(r.path))
    finally:
        console.close()
    if result.bad_input:
        print(f"workbench: error: {result.reason}", file=sys.stderr)
    return result.exit_code


def _is_command_file(path: str) -> bool:
    from workbench.command_file import is_command_file

    return is_command_file(path)


def _is_log(stream, log_path) -> bool:
    try:
        return os.path.samefile(f"/proc/self/fd/{stream.fileno()}", log_path)
    except (OSError, ValueError, AttributeError):
        return False
