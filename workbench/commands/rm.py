"""`workbench rm RUN`: delete a run folder."""

from __future__ import annotations

import argparse
import shutil

from workbench.cli import add_runs_dir
from workbench.errors import WorkbenchError
from workbench.store import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rm", help="delete a run (refuses a running one unless --force)",
                       description="Delete runs/<RUN>/ with its checkpoints and metrics.")
    p.add_argument("runs", metavar="RUN", nargs="+", help="run ids or unique prefixes")
    p.add_argument("--force", action="store_true", help="also delete a run that is still running (stop it first)")
    add_runs_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    store = RunStore(args.runs_dir)
    targets = [store.resolve(ref) for ref in args.runs]
    for r in targets:
        if r.info().status == "running" and not args.force:
            raise WorkbenchError(f"{r.id} is running; stop it first (`workbench stop {r.id}`) or use --force")
    for r in targets:
        if r.path.is_symlink():  # rmtree would refuse it; say so in one line
            raise WorkbenchError(f"{r.path} is a link, not a run folder; remove the link itself if you mean to")
        shutil.rmtree(r.path)
        print(f"removed {r.id}")
    return 0
