"""`workbench compare RUN RUN…`: summaries side by side, differing keys, overlaid val curves."""

from __future__ import annotations

import argparse
import sys

from workbench import keys
from workbench.cli import add_runs_dir
from workbench.config import diff_configs, flatten
from workbench.errors import WorkbenchError
from workbench.formatting import SUMMARY_ROWS, fmt_steps, fmt_value, nearest, use_color
from workbench.store import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare runs: summaries, differing config keys, val-loss curves",
                       description="Compare two or more runs: their summaries side by side, only the "
                                   "config keys that differ, and the val-loss curves overlaid.")
    p.add_argument("runs", metavar="RUN", nargs="+", help="run ids or unique prefixes (two or more)")
    p.add_argument("--x", choices=("step", "tokens", "time"), default="step", help="x axis of the curves")
    p.add_argument("--key", default=keys.EVAL_VAL_LOSS, help=f"the series to plot (default {keys.EVAL_VAL_LOSS})")
    p.add_argument("--no-plot", action="store_true", help="tables only")
    add_runs_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    if len(args.runs) < 2:
        raise WorkbenchError("compare needs two or more runs")
    store = RunStore(args.runs_dir)
    runs = [store.resolve(ref) for ref in args.runs]
    con = Console(highlight=False, width=None if sys.stdout.isatty() else 200)

    table = Table(box=None, header_style="bold", title="summary", title_justify="left")
    table.add_column("")
    for r in runs:
        table.add_column(r.id, justify="right")
    summaries, infos = [], []
    for r in runs:
        with r.reading() as info:
            summaries.append(r.summary(info=info))
            infos.append(info)
    table.add_row("status", *[i.status for i in infos])
    table.add_row("step", *[fmt_steps(s["step"], s["max_steps"]) for s in summaries])
    for label, field, fmt in SUMMARY_ROWS:
        table.add_row(label, *[fmt(s.get(field)) for s in summaries])
    con.print(table)

    cfgs = [r.config_values(i) for r, i in zip(runs, infos)]
    diff_keys = sorted({k for c in cfgs[1:] for k, _, _ in diff_configs(cfgs[0], c)})
    configs = [flatten(c) for c in cfgs]
    con.print()
    if diff_keys:
        t = Table(box=None, header_style="bold", title="config keys that differ", title_justify="left")
        t.add_column("key")
        for r in runs:
            t.add_column(r.id, overflow="fold")
        for k in diff_keys:
            t.add_row(k, *[fmt_value(c.get(k)) for c in configs])
        con.print(t)
    else:
        con.print("configs are identical")

    if not args.no_plot:
        plot_curves(runs, args.key, args.x, con.width, color=use_color(sys.stdout))
    return 0


def plot_curves(runs: list, key: str, x: str, width: int, color: bool) -> None:
    import plotext as plt

    recorded = {k for r in runs for k in _keys(r)}
    if key not in recorded:
        hint = nearest(key, sorted(recorded))
        raise WorkbenchError(f"--key {key!r}: none of the runs recorded it" +
                             (f"; did you mean {hint!r}?" if hint else f"; they have: {', '.join(sorted(recorded))}"))
    plt.clear_figure()
    plotted = 0
    for r in runs:
        pts = r.reader().series(key, x=x, max_points=1000)
        if pts:
            plt.plot([p[0] for p in pts], [p[1] for p in pts], label=r.id, marker="braille")
            plotted += 1
    if not plotted:
        print(f"\n(no {key} points to plot yet)")
        return
    plt.title(f"{key} by {x}")
    plt.xlabel({"time": "seconds"}.get(x, x))
    plt.plotsize(min(width, 120), 20)
    plt.theme("clear")
    text = plt.build()
    print()
    print(text if color else plt.uncolorize(text))  # no colour codes into a file, a pipe, or with NO_COLOR


def _keys(run) -> list[str]:
    r = run.reader()
    try:
        return r.keys() + r.telemetry_keys()
    finally:
        r.close()
