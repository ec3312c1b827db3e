"""`workbench diff A B`: the config keys that differ between two runs or experiment files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.cli import add_runs_dir
from workbench.config import Config, diff_configs, load_config
from workbench.formatting import fmt_value
from workbench.store import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diff", help="the config keys that differ between two runs or experiment files",
                       description="Compare the resolved configs of A and B and print only the keys "
                                   "that differ. Each of A and B is an experiment file (.toml) or a "
                                   "run id (or unique prefix).")
    p.add_argument("a", metavar="A", help="experiment file or run")
    p.add_argument("b", metavar="B", help="experiment file or run")
    add_runs_dir(p)
    p.set_defaults(func=run)


def resolve_config(ref: str, store: RunStore) -> Config | dict:
    """An experiment file or a run (a script's or command's free-form config too), by what
    the argument looks like."""
    if ref.endswith(".toml") or Path(ref).is_file():
        return load_config(ref)
    return store.resolve(ref).config_values()


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    store = RunStore(args.runs_dir)
    rows = diff_configs(resolve_config(args.a, store), resolve_config(args.b, store))
    if not rows:
        print(f"no differences between {args.a} and {args.b}")
        return 0
    table = Table(box=None, header_style="bold")
    table.add_column("key")
    table.add_column(args.a, overflow="fold")
    table.add_column(args.b, overflow="fold")
    for k, va, vb in rows:
        table.add_row(k, fmt_value(va), fmt_value(vb))
    Console(highlight=False, width=None if sys.stdout.isatty() else 200).print(table)
    return 0
