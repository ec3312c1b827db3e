"""`workbench resume RUN`: continue a stopped (or crashed) run from its last checkpoint, or
extend a finished one (`--set train.max_steps=N`)."""

from __future__ import annotations

import argparse

from workbench.cli import add_overrides, add_runs_dir
from workbench.store import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("resume", help="continue a run from its last checkpoint",
                       description="Continue a run in its own folder from checkpoints/last.pt: model, "
                                   "optimizer, schedule, RNG, step and tokens are restored exactly. "
                                   "Runs in the background (output to the run's train.log) unless --fg.")
    p.add_argument("run", metavar="RUN", help="run id or unique prefix")
    p.add_argument("--fg", action="store_true", help="train in the foreground with a progress bar")
    add_overrides(p)
    add_runs_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    store = RunStore(args.runs_dir)
    r = store.resolve(args.run)
    if args.fg:
        from workbench.cli import main

        sets = [a for o in args.overrides for a in ("--set", o)]
        return main(["run", "--resume", r.id, "--runs-dir", str(store.root), *sets])
    from workbench.launch import resume_run

    resume_run(store, r, args.overrides)
    print(f"resumed {r.id} in the background (log: {r.log_path}); watch it with `workbench` or "
          f"`workbench show {r.id}`")
    return 0
