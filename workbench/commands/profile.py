"""`workbench profile X.toml`: a few training steps under torch.profiler; the most
expensive operators and a verdict, stored as runs/<id>/profile.json and printed."""

from __future__ import annotations

import argparse
import sys
import traceback

from workbench import keys
from workbench.cli import add_overrides, add_runs_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "profile", help="profile a few training steps: top operators and where the time goes",
        description="Run --warmup steps (compilation included), then --steps steps under torch.profiler "
                    "(CPU and CUDA activities where available). The most expensive operators and a "
                    "verdict (data, host syncs, optimizer, attention, matmuls, idle GPU) go into a run "
                    "folder as profile.json (status finished, reason 'profile') and are printed.")
    p.add_argument("experiment", help="experiment TOML file")
    p.add_argument("--steps", type=int, default=5, help="profiled steps (default 5)")
    p.add_argument("--warmup", type=int, default=3, help="steps before profiling, compilation included (default 3)")
    p.add_argument("--top", type=int, default=25, help="operators in the table (default 25)")
    add_overrides(p)
    add_runs_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.config import load_config
    from workbench.config_checks import check_runnable
    from workbench.errors import WorkbenchError
    from workbench.store import RunStore

    if args.steps < 1 or args.warmup < 1:
        raise WorkbenchError("--steps and --warmup must be at least 1")
    cfg = load_config(args.experiment, args.overrides)
    check_runnable(cfg, args.experiment)
    store = RunStore(args.runs_dir)
    r = store.create_run(store.new_run_id(cfg.experiment.name), cfg, experiment_file=args.experiment)
    try:
        import torch

        from workbench.profiling import format_table, profile_config, write_profile

        result = profile_config(cfg, steps=args.steps, warmup=args.warmup, top=args.top)
        result["run_id"] = r.id
        write_profile(r.profile_path, result)
        r.update_info(params=result["params"], device_name=result["device"], torch_version=torch.__version__,
                      cuda_version=torch.version.cuda or "")
        with r.writer() as w:
            w.scalars(args.warmup + args.steps, result["tokens_per_step"] * (args.warmup + args.steps),
                      {keys.TOK_PER_S: result["tok_per_s"], keys.STEP_MS: result["ms_per_step"],
                       keys.TRAIN_LOSS: result["loss"]})
            w.event("profile", result["verdict"], step=args.warmup + args.steps)
    except BaseException as e:
        if isinstance(e, WorkbenchError):
            r.mark_ended("failed", str(e))
            raise
        traceback.print_exc(file=sys.stderr)
        r.mark_ended("failed", f"profile: {type(e).__name__}: {e}"[:500])
        return 1
    r.mark_ended("finished", "profile")
    print(f"{r.id}: {result['device']} {result['precision']}, compile {'on' if result['compile'] else 'off'}, "
          f"{args.steps} profiled steps after {args.warmup} warmup")
    print(format_table(result))
    print(f"\nsaved {r.profile_path}")
    return 0
