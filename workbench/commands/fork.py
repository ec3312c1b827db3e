"""`workbench fork RUN`: a new run from RUN's last (or best) checkpoint with changed settings
(workbench/fork.py). Trains in this terminal as `workbench run` does (same progress output and
exit codes) unless --bg."""

from __future__ import annotations

import argparse

from workbench.cli import add_overrides, add_runs_dir
from workbench.store import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fork", help="a new run from a run's checkpoint, with changed settings",
        description="Start a new run from RUN's checkpoint: weights, optimizer, step, tokens and RNG as a "
                    "resume restores them, with RUN's config changed by --set (learning rate, steps, …). "
                    "The new run records RUN as its parent: `workbench diff NEW` and the dashboard show what "
                    "changed; its metrics start at the fork's step. Settings that shape the model's weights "
                    "cannot change. Trains in this terminal like `workbench run` (same exit codes) unless --bg.",
        epilog="example: workbench fork tiny-20261126-120000 --from best --set train.lr=3e-4 "
               "--set train.max_steps=2000")
    p.add_argument("run", metavar="RUN", help="the parent run: id or unique prefix (it may still be running)")
    p.add_argument("--from", dest="which", choices=("last", "best"), default="last",
                   help="which of RUN's checkpoints to start from (default: last)")
    add_overrides(p)
    p.add_argument("--name", help="experiment name for the new run's id (default: RUN's experiment name)")
    p.add_argument("--bg", action="store_true",
                   help="train in the background (output to the new run's train.log), as the TUI does")
    add_runs_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench import fork

    store = RunStore(args.runs_dir)
    parent = store.resolve(args.run)
    source = fork.parent_checkpoint(parent, args.which)
    cfg = fork.fork_config(parent, args.overrides, args.name, args.which)
    step = fork.checkpoint_step(source)  # refuse a fork with nothing to train before making its folder
    fork.check_start(cfg, step, parent.id)
    child = fork.create_fork(store, parent, args.which, cfg, args.overrides)
    if args.bg:
        from workbench.launch import resume_run

        resume_run(store, child)
        print(f"forked {parent.id} at step {step} as {child.id}, training in the background "
              f"(log: {child.log_path}); watch it with `workbench` or `workbench show {child.id}`")
        return 0
    from workbench.cli import main

    print(f"forked {parent.id} at step {step} ({args.which} checkpoint) as {child.id}", flush=True)
    return main(["run", "--resume", child.id, "--runs-dir", str(store.root)])
