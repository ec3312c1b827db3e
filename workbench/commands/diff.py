"""`workbench diff A B`: the config keys that differ between two runs or experiment files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.cli import add_runs_dir
from workbench.config import Config, diff_configs, load_config
from workbench.errors import WorkbenchError
from workbench.formatting import fmt_value
from workbench.store import RunStore


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diff", help="the config keys that differ between two runs or experiment files",
                       description="Compare the resolved configs of A and B and print only the keys "
                                   "that differ. Each of A and B is an experiment file (.toml) or a "
                                   "run id (or unique prefix). With A alone, a run: against its parent "
                                   "(the run it was forked from, or the experiment its file extends).")
    p.add_argument("a", metavar="A", help="experiment file or run")
    p.add_argument("b", metavar="B", nargs="?", help="experiment file or run (left out: A's parent)")
    add_runs_dir(p)
    p.set_defaults(func=run)


def resolve_config(ref: str, store: RunStore) -> Config | dict:
    """An experiment file or a run (a script's or command's free-form config too), by what
    the argument looks like."""
    if ref.endswith(".toml") or Path(ref).is_file():
        return load_config(ref)
    return store.resolve(ref).config_values()


def parent_config(ref: str, store: RunStore) -> tuple[str, dict]:
    """(its name, its config) of a run's parent: the run it forked, or the experiment its file extends."""
    info = store.resolve(ref).raw_info()
    if not info.parent_config:
        raise WorkbenchError(f"{ref} has no parent to compare with (it is neither a fork nor a run of an "
                             "experiment that extends another); name what to compare it with: `workbench "
                             f"diff {ref} B`")
    if info.forked_from:
        return info.forked_from["run"], info.parent_config
    chain = info.extends_chain
    return (str(chain[1]).rsplit("/", 1)[-1] if len(chain) > 1 else "parent"), info.parent_config


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    store = RunStore(args.runs_dir)
    if args.b is None:
        (name_a, a), (name_b, b) = parent_config(args.a, store), (args.a, resolve_config(args.a, store))
    else:
        (name_a, a), (name_b, b) = (args.a, resolve_config(args.a, store)), (args.b, resolve_config(args.b, store))
    rows = diff_configs(a, b)
    if not rows:
        print(f"no differences between {name_a} and {name_b}")
        return 0
    table = Table(box=None, header_style="bold")
    table.add_column("key")
    table.add_column(name_a, overflow="fold")
    table.add_column(name_b, overflow="fold")
    for k, va, vb in rows:
        table.add_row(k, fmt_value(va), fmt_value(vb))
    Console(highlight=False, width=None if sys.stdout.isatty() else 200).print(table)
    return 0
