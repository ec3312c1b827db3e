"""`workbench config X.toml`: print the resolved config."""

from __future__ import annotations

import argparse

from workbench.cli import add_overrides
from workbench.config import config_to_toml, load_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="print an experiment's resolved config (defaults filled, extends flattened)",
                       description="Print the resolved config of an experiment file as TOML: every key, "
                                   "defaults filled in and the extends chain flattened. The output is "
                                   "itself a valid experiment file.")
    p.add_argument("experiment", help="experiment TOML file")
    add_overrides(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(config_to_toml(load_config(args.experiment, args.overrides)), end="")
    return 0
