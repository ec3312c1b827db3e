"""`workbench sweep X.toml`, `sweep show [ID]`, `sweep ls`, `sweep stop [ID]`: Optuna sweeps as queued runs."""

from __future__ import annotations

import argparse
import json

from workbench.cli import add_overrides, add_runs_dir
from workbench.formatting import fmt_loss


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep", help="search hyperparameters with Optuna: each trial is a queued run",
        usage="workbench sweep X.toml [--set KEY=VALUE …] | show [ID] [--json] | ls | stop [ID]",
        description="`workbench sweep X.toml` starts a sweep over the file's [sweep] table (see the "
                    "README's Sweeps section): its trials are queued as runs, and the scheduler moves "
                    "the sweep on as they finish, without the TUI. `sweep show [ID]` prints a sweep's "
                    "trials with the best marked (the latest sweep by default); `sweep ls` lists the "
                    "sweeps; `sweep stop [ID]` takes its waiting trials off the queue and stops its "
                    "running ones.")
    p.add_argument("what", metavar="X.toml|show|ls|stop", help="an experiment file, or a subcommand")
    p.add_argument("id", nargs="?", help="for show and stop: sweep id or unique prefix (default: the latest)")
    add_overrides(p)
    p.add_argument("--json", action="store_true", help="for show: print JSON")
    add_runs_dir(p)
    p.set_defaults(func=dispatch)


def dispatch(args: argparse.Namespace) -> int:
    from workbench.errors import WorkbenchError

    command = {"show": show, "ls": list_all, "stop": stop}.get(args.what)
    if command is None:
        if args.id:
            raise WorkbenchError(f"`workbench sweep {args.what}` takes no second argument ({args.id!r})")
        args.experiment = args.what
        return start(args)
    return command(args)


def _store(args):
    from workbench.store import RunStore

    return RunStore(args.runs_dir)


def start(args: argparse.Namespace) -> int:
    from workbench.scheduler import ensure_scheduler
    from workbench.sweep import create

    store = _store(args)
    info = create(store, args.experiment, args.overrides)
    spec = info.sweep_spec()
    print(f"sweep {info.id}: {spec.method}, {spec.total_trials()} trials over "
          f"{', '.join(spec.space)}; {spec.goal} {spec.metric}"
          + (f", {spec.prune} pruning" if spec.prune != "none" else ""))
    pid, started = ensure_scheduler(store)
    print(f"scheduler {'started' if started else 'running'} (pid {pid}); "
          f"`workbench sweep show {info.id}` shows the trials")
    return 0


def _row_dict(row) -> dict:
    return {"trial": row.number, "run_id": row.run_id or None, "status": row.status, "value": row.value,
            "params": row.params, "best": row.best}


def show(args: argparse.Namespace) -> int:
    from workbench.sweep import resolve, trial_rows

    store = _store(args)
    info = resolve(store, args.id)
    spec = info.sweep_spec()
    rows = trial_rows(store, info)
    best = next((r for r in rows if r.best), None)
    if args.json:
        print(json.dumps({"id": info.id, "state": info.state, "experiment": info.experiment,
                          "method": spec.method, "metric": spec.metric, "goal": spec.goal,
                          "prune": spec.prune, "trials_total": spec.total_trials(),
                          "best": _row_dict(best) if best else None,
                          "trials": [_row_dict(r) for r in rows]}, indent=2))
        return 0
    print(f"sweep {info.id}  {info.state}  {spec.method}  {len(rows)}/{spec.total_trials()} trials  "
          f"{spec.goal} {spec.metric}" + (f"  prune {spec.prune}" if spec.prune != "none" else ""))
    keys = list(spec.space)
    widths = [max(len(k), 8) for k in keys]
    print(f"  {'trial':>5}  " + "  ".join(f"{k:>{w}}" for k, w in zip(keys, widths))
          + f"  {'status':<9} {spec.metric:>12}  run")
    for r in rows:
        values = "  ".join(f"{_fmt(r.params.get(k)):>{w}}" for k, w in zip(keys, widths))
        print(f"{'*' if r.best else ' '} {r.number:>5}  {values}  {r.status:<9} {fmt_loss(r.value):>12}  {r.run_id}")
    if best:
        print(f"best: trial {best.number} ({best.run_id}) {spec.metric} {fmt_loss(best.value)}")
    return 0


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def list_all(args: argparse.Namespace) -> int:
    from workbench.sweep import list_sweeps

    sweeps = list_sweeps(_store(args))
    if not sweeps:
        print("no sweeps yet: `workbench sweep X.toml` starts one")
    for s in sweeps:
        print(f"{s.id:<40} {s.state:<9} {s.spec.get('method', ''):<7} {s.experiment_file}")
    return 0


def stop(args: argparse.Namespace) -> int:
    from workbench.sweep import resolve
    from workbench.sweep import stop as stop_sweep

    store = _store(args)
    info = resolve(store, args.id)
    print(f"stopping sweep {info.id} …", flush=True)
    stopped = stop_sweep(store, info.id)
    print(f"sweep {info.id} stopped" + (f"; stopped {', '.join(stopped)}" if stopped else ""))
    return 0
