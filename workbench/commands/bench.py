"""`workbench bench X.toml [Y.toml …]`: median ms/step, tok/s, MFU, peak memory and
compile time of each config's training step; several configs make one markdown table."""

from __future__ import annotations

import argparse
import sys

from workbench.cli import add_overrides


def register(sub: argparse._SubParsersAction) -> None:
    from workbench.bench import DEFAULT_STEPS, DEFAULT_WARMUP

    p = sub.add_parser(
        "bench", help="measure training speed of one or more experiments (no run folder)",
        description="Build each experiment as `workbench run` does, run --warmup untimed steps (the "
                    "first one holds compilation, reported apart) and --steps timed ones; print the "
                    "median ms/step, tok/s, MFU, peak memory and compile time as a markdown table.")
    p.add_argument("experiments", nargs="+", metavar="EXPERIMENT", help="experiment TOML files")
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"timed steps (default {DEFAULT_STEPS})")
    p.add_argument("--warmup", type=int, default=DEFAULT_WARMUP,
                   help=f"untimed steps first, compilation included (default {DEFAULT_WARMUP}, at least 1)")
    add_overrides(p)
    p.add_argument("--json", metavar="FILE", help="also write the results (and the machine) as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from workbench.bench import bench_config, markdown_table, write_json
    from workbench.config import load_config
    from workbench.errors import WorkbenchError

    if args.steps < 1 or args.warmup < 1:
        raise WorkbenchError("--steps and --warmup must be at least 1")
    cfgs = [(Path(e).stem, load_config(e, args.overrides)) for e in args.experiments]  # bad input first
    results = []
    for name, cfg in cfgs:
        print(f"bench {name}: {args.warmup} warmup + {args.steps} timed steps…", file=sys.stderr, flush=True)
        r = bench_config(cfg, args.steps, args.warmup, name=name)
        print(f"  {r['ms_per_step']:.2f} ms/step, compile/first step {r['compile_s']:.1f} s",
              file=sys.stderr, flush=True)
        for warning in r["contention"]["warnings"]:
            print(f"  warning: {warning}", file=sys.stderr, flush=True)
        results.append(r)
    print(markdown_table(results), flush=True)
    busy = [r["config"] for r in results if r["contention"]["warnings"]]
    if busy:
        print(f"\nwarning: the machine was busy with other work while {', '.join(busy)} ran "
              "(see above); rerun on an idle machine for figures to compare", flush=True)
    if args.json:
        write_json(args.json, results, args.steps, args.warmup)
    return 0
