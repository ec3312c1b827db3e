"""`workbench show RUN`: one run's status, summary, config, samples and events."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from workbench import labels
from workbench.checkpoint_files import list_checkpoints
from workbench.cli import add_runs_dir
from workbench.config import flatten
from workbench.formatting import (
    STATUS_COLOR,
    SUMMARY_ROWS,
    fmt_bytes,
    fmt_duration,
    fmt_origin,
    fmt_steps,
    fmt_time,
    fmt_value,
)
from workbench.store import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="one run in detail: status, summary, config, samples, events",
                       description="Show one run: status and reason, the summary, its config, "
                                   "the latest samples and its events. RUN is a run id or a unique prefix.")
    p.add_argument("run", metavar="RUN", help="run id or unique prefix")
    p.add_argument("--json", action="store_true", help="print everything as JSON")
    p.add_argument("--samples", type=int, default=2, metavar="N", help="latest samples shown (default 2)")
    add_runs_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    store = RunStore(args.runs_dir)
    r = store.resolve(args.run)
    with r.reading() as info:
        reader = r.reader()
        summary = r.summary(reader, info=info)
        samples = reader.samples()[-args.samples:] if args.samples > 0 else []
        events = reader.events()
        reader.close()
    config = r.config_values(info) if r.config_path.exists() else {}
    ckpts = list_checkpoints(r.path / "checkpoints")
    lab = labels.for_run(r.path, info.tags)
    if args.json:
        print(json.dumps({"id": r.id, "path": str(r.path), "status": info.status, "reason": info.reason,
                          "tags": lab.tags, "note": lab.note, "labels_problem": lab.problem,
                          "info": asdict(info), "summary": summary, "config": config,
                          "checkpoints": [{"name": c.name, "step": c.step, "bytes": c.size} for c in ckpts],
                          "samples": [asdict(s) for s in samples], "events": [asdict(e) for e in events]},
                         indent=2, default=str))
        return 0

    from rich.console import Console

    con = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    _print_header(con, r, info)
    _print_labels(con, lab)
    _print_summary(con, summary)
    _print_checkpoints(con, ckpts)
    _print_config(con, config, info.kind == "trainer")
    _print_samples_and_events(con, samples, events)
    return 0


def _print_header(con, r, info) -> None:
    """Id and status, where it came from, where and how it ran."""
    color = STATUS_COLOR.get(info.status, "white")
    con.print(f"[bold]{r.id}[/]  [{color}]{info.status}[/]" + (f"  {info.reason}" if info.reason else ""))
    origin = fmt_origin(info.experiment_file, info.experiment, info.overrides, info.forked_from)
    extends = f" (extends {' <- '.join(info.extends_chain[1:])})" if len(info.extends_chain) > 1 else ""
    if info.forked_from:
        extends = f" (from its {info.forked_from['checkpoint']} checkpoint; `workbench diff {r.id}` shows what changed)"
    con.print(f"  folder {r.path}   experiment {origin}{extends}", markup=False)
    con.print(f"  started {fmt_time(info.started)}  host {info.hostname}  pid {info.pid}  device "
              f"{info.device_name or '-'}  torch {info.torch_version or '-'}"
              + (f"  git {info.git_commit[:10]}{' (dirty)' if info.git_dirty else ''}" if info.git_commit else ""))


def _print_labels(con, lab: labels.RunLabels) -> None:
    if lab.tags:
        con.print(f"  tags {' '.join(lab.tags)}", markup=False)
    if lab.problem:
        con.print(f"  tags and note ignored: {lab.problem}", markup=False)
    if lab.note:
        con.print("\n[bold]note[/]")
        con.print(lab.note, markup=False)


def _print_summary(con, summary: dict) -> None:
    from rich.table import Table

    t = Table(box=None, show_header=False, padding=(0, 2))
    t.add_row("step", fmt_steps(summary["step"], summary["max_steps"]))
    if summary.get("eta_s") is not None:
        t.add_row("ETA", fmt_duration(summary["eta_s"]))
    for label, field, fmt in SUMMARY_ROWS:
        t.add_row(label, fmt(summary.get(field)))
    con.print("\n[bold]summary[/]")
    con.print(t)


def _print_checkpoints(con, ckpts: list) -> None:
    if ckpts:
        con.print(f"\n[bold]checkpoints[/] ({len(ckpts)}, {fmt_bytes(sum(c.size for c in ckpts))} in all)")
        con.print("  " + ", ".join(f"{c.label} ({fmt_bytes(c.size)})" for c in ckpts))


def _print_config(con, config: dict, trainer: bool) -> None:
    """A trainer run's config as it differs from the defaults; any other run's config whole."""
    if not config:
        return
    from workbench.config import Config

    con.print("\n[bold]config[/]" + (" (differs from defaults)" if trainer else ""))
    defaults = flatten(Config()) if trainer else {}
    for k, v in flatten(config).items():
        if defaults.get(k) != v:
            con.print(f"  {k} = {fmt_value(v)}")


def _print_samples_and_events(con, samples: list, events: list) -> None:
    for s in samples:
        con.print(f"\n[bold]sample @ step {s.step}[/]")
        con.print(s.text, markup=False)
    if events:
        con.print("\n[bold]events[/]")
        for e in events[-15:]:
            con.print(f"  {fmt_time(e.time)}  step {e.step if e.step is not None else '-':>6}  "
                      f"{e.kind:<12} {e.message}", markup=False)
