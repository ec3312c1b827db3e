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
    p.add_argument("--nproc", type=int, metavar="N",
                   help="step in DistributedDataParallel on N processes under torchrun (1 too: DDP's own "
                        "cost); tok/s counts them all")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from workbench.bench import markdown_table, write_json
    from workbench.config import load_config
    from workbench.distributed import Dist, init, under_torchrun
    from workbench.errors import WorkbenchError

    if args.steps < 1 or args.warmup < 1 or (args.nproc is not None and args.nproc < 1):
        raise WorkbenchError("--steps, --warmup and --nproc must be at least 1")
    cfgs = [(Path(e).stem, load_config(e, args.overrides)) for e in args.experiments]  # bad input first
    if args.nproc and not under_torchrun():
        return _launch(args, cfgs)
    dist = init() if under_torchrun() else Dist()
    try:
        results = _bench_all(args, cfgs, dist)
    finally:
        dist.cleanup()
    if not dist.is_recorder:
        return 0
    print(markdown_table(results), flush=True)
    busy = [r["config"] for r in results if r["contention"]["warnings"]]
    if busy:
        print(f"\nwarning: the machine was busy with other work while {', '.join(busy)} ran "
              "(see above); rerun on an idle machine for figures to compare", flush=True)
    if args.json:
        write_json(args.json, results, args.steps, args.warmup)
    return 0


def _bench_all(args: argparse.Namespace, cfgs: list, dist) -> list[dict]:
    from workbench.bench import bench_config

    results = []
    for name, cfg in cfgs:
        if dist.is_recorder:
            print(f"bench {name}: {args.warmup} warmup + {args.steps} timed steps…", file=sys.stderr, flush=True)
        r = bench_config(cfg, args.steps, args.warmup, name=name, dist=dist)
        if dist.is_recorder:
            print(f"  {r['ms_per_step']:.2f} ms/step, compile/first step {r['compile_s']:.1f} s",
                  file=sys.stderr, flush=True)
            for warning in r["contention"]["warnings"]:
                print(f"  warning: {warning}", file=sys.stderr, flush=True)
        results.append(r)
    return results


def _launch(args: argparse.Namespace, cfgs: list) -> int:
    """Run this same bench as --nproc ranks under torchrun; rank 0 prints the table."""
    from workbench.torchrun import Nodes, gpu_env, launch

    argv = ["bench", *args.experiments, "--steps", str(args.steps), "--warmup", str(args.warmup)]
    argv += [a for o in args.overrides for a in ("--set", o)] + (["--json", args.json] if args.json else [])
    failure = launch(args.nproc, Nodes(), argv, gpu_env(cfgs[0][1].system.device))
    if failure is not None:
        print("workbench: error: bench under torchrun failed"
              + (f": rank {failure.rank}: {failure.why}" if failure.rank is not None else ""), file=sys.stderr)
        return failure.exit_code
    return 0
