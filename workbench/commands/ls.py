"""`workbench ls`: the runs in the store, newest first."""

from __future__ import annotations

import argparse
import json
import sys

from workbench import labels
from workbench.cli import add_runs_dir
from workbench.errors import WorkbenchError
from workbench.formatting import (
    STATUS_COLOR,
    fmt_duration,
    fmt_loss,
    fmt_origin,
    fmt_rate,
    fmt_steps,
    fmt_tags,
    fmt_time,
    plain_table,
    use_color,
)
from workbench.run_info import STATUSES
from workbench.store import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ls", help="list runs, newest first",
                       description="List the runs in the run store, newest first: id, experiment, "
                                   "status, step/max, best val loss, tok/s (mean over the run's "
                                   "step time), start time, training time and wall time (see "
                                   "`workbench show` for what each means).")
    p.add_argument("--status", choices=STATUSES, help="only runs with this status")
    p.add_argument("--experiment", metavar="NAME", help="only runs of this experiment")
    p.add_argument("--tag", action="append", default=[], metavar="NAME",
                   help="only runs with this tag (repeatable: runs with all of them); see `workbench tag`")
    p.add_argument("--json", action="store_true", help="print JSON (one object per run) instead of a table")
    add_runs_dir(p)
    p.set_defaults(func=run)


def rows(store: RunStore, status: str | None, experiment: str | None, tags: list[str] = ()) -> list[dict]:
    out = []
    for run, info in store.scan(experiment=experiment):
        lab = labels.for_run(run.path, info.tags)
        if not set(tags) <= set(lab.tags):
            continue
        info, s = run.overview(info)
        if status and info.status != status:
            continue
        out.append({"id": run.id, "experiment": info.experiment, "overrides": info.overrides,
                    "origin": fmt_origin(info.experiment_file, info.experiment, info.overrides, info.forked_from),
                    "forked_from": info.forked_from,
                    "status": info.status,
                    "reason": info.reason, "step": s.get("step"), "max_steps": s.get("max_steps") or info.max_steps,
                    "best_val_loss": s.get("best_val_loss"), "tokens_per_sec": s.get("tokens_per_sec"),
                    "tokens_per_sec_last": s.get("tokens_per_sec_last"), "started": info.started,
                    "train_time_s": s.get("train_time_s"), "wall_time_s": s.get("wall_time_s"),
                    "eta_s": s.get("eta_s"), "tags": lab.tags, "note": lab.note,
                    "labels_problem": lab.problem})
    return out


def run(args: argparse.Namespace) -> int:
    store = RunStore(args.runs_dir)
    for name in args.tag:
        problem = labels.tag_problem(name)
        if problem:
            raise WorkbenchError(f"--tag {name[:60]!r}: {problem}")
    data = rows(store, args.status, args.experiment, args.tag)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    if not data:
        print(nothing_found(store, args))
        return 0
    headers = ["id", "experiment", "status", "step", "best val", "tok/s mean", "started", "training", "wall"]
    cells = [[r["id"], r["origin"], r["status"], fmt_steps(r["step"], r["max_steps"]),
              fmt_loss(r["best_val_loss"]), fmt_rate(r["tokens_per_sec"]), fmt_time(r["started"]),
              fmt_duration(r["train_time_s"]), fmt_duration(r["wall_time_s"])] for r in data]
    if any(r["tags"] for r in data):  # the column only where some run has a tag
        headers.append("tags")
        for row, r in zip(cells, data):
            row.append(fmt_tags(r["tags"]))
    colors = [STATUS_COLOR.get(r["status"]) for r in data] if use_color(sys.stdout) else None
    print(plain_table(headers, cells, right={3, 4, 5, 7, 8}, colors=colors, color_col=2))
    for r in data:
        if r["status"] == "damaged":
            print(f"{r['id']}: damaged: {r['reason']}")
        if r["labels_problem"]:
            print(f"{r['id']}: tags and note ignored: {r['labels_problem']}")
    return 0


def nothing_found(store: RunStore, args: argparse.Namespace) -> str:
    """Why the listing is empty: no runs at all, or none that pass the filters (and how many there are)."""
    total = len(store.runs())
    if not total:
        return f"no runs in {store.root}/ — start one with `workbench run experiments/tiny.toml`"
    what = [f"{k} {v!r}" for k, v in (("status", args.status), ("experiment", args.experiment)) if v]
    what += [f"tag {t!r}" for t in args.tag]
    runs = f"{total} run{'s' if total != 1 else ''}"
    return f"no runs with {' and '.join(what)} ({runs} in {store.root}/; `workbench ls` lists them all)"
