"""`workbench stop RUN`: SIGTERM to a run; it saves a checkpoint and ends as stopped."""

from __future__ import annotations

import argparse

from workbench.cli import add_runs_dir
from workbench.launch import stop_run
from workbench.store import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stop", help="stop a running run (it saves a checkpoint first)",
                       description="Send SIGTERM to a run's process group. The trainer finishes its "
                                   "step, saves checkpoints/last.pt and ends as 'stopped'; this "
                                   "command waits for that. `workbench resume RUN` continues it.")
    p.add_argument("run", metavar="RUN", help="run id or unique prefix")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait (default 120)")
    add_runs_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    r = RunStore(args.runs_dir).resolve(args.run)
    print(f"stopping {r.id} …", flush=True)
    status = stop_run(r, timeout=args.timeout)
    print(f"{r.id}: {status}" + ("" if status == "stopped" else f" ({r.info().reason})"))
    return 0 if status == "stopped" else 1
