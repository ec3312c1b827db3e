"""workbench vs the plain loop: tok/s of `workbench run` (everything on) over the
reference loop's (benchmarks/reference_loop.py) on the same config, and the share of the
run's wall time that evaluation and sampling take. Goals: ratio >= 0.97; eval + sample
< 5% of the wall time at the config's default intervals.

    python benchmarks/overhead_vs_reference.py                           # experiments/cpu.toml
    python benchmarks/overhead_vs_reference.py experiments/char.toml --steps 1000 --repeats 2

Both are real subprocesses, alternating (reference, workbench, reference, …) so drift in
the machine's speed hits both. The workbench run is a plain `python -m workbench run`:
telemetry, store, progress output, evaluation and samples at the config's intervals,
checkpoints; only train.max_steps is set to --steps. Its training tok/s is read from its
store: the logging windows (which exclude evaluation, sampling and checkpoint time)
over steps skip+1..steps, the same steps the reference times, in windows of
train.log_interval steps on both sides. Ratio = median over pairs of workbench/reference
median-window tok/s (robust to a shared machine's bursts); the all-windows ratio is printed
beside it. Eval/sample cost is the sum of the run's `perf/eval_s` and
`perf/sample_s` over its wall time (run.json started..ended), and projected to the
config's full length (its own max_steps, at the measured step time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))


def run_reference(experiment: str, steps: int, skip: int, overrides: list[str], timeout: float) -> dict:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "reference_loop.py"), experiment,
           "--steps", str(steps), "--skip", str(skip)]
    for o in overrides:
        cmd += ["--set", o]
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        sys.exit(f"reference failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def window_tok_s(step_ms: list[tuple[float, float]], tokens_per_step: int, skip: int,
                 last: int) -> tuple[float | None, float | None]:
    """(tok/s over all logging windows ending after `skip`, tok/s of the median window);
    a window's steps are the gap to the previous logged step."""
    total_s, total_steps, prev, per = 0.0, 0, None, []
    for s, ms in step_ms:
        if prev is not None and skip < s <= last:
            n = int(s - prev)
            total_s += n * ms / 1000
            total_steps += n
            per.append(ms)
        prev = s
    total = total_steps * tokens_per_step / total_s if total_s > 0 else None
    median = 1000 * tokens_per_step / statistics.median(per) if per else None
    return total, median


def run_workbench(experiment: str, steps: int, skip: int, overrides: list[str], runs_dir: Path,
                  run_id: str, timeout: float) -> dict:
    from workbench.config import load_config
    from workbench.store import RunStore

    cmd = [sys.executable, "-m", "workbench", "run", experiment, "--run-id", run_id, "--runs-dir", str(runs_dir),
           "--set", f"train.max_steps={steps}"]
    for o in overrides:
        cmd += ["--set", o]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"workbench run failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}\n"
                 f"{proc.stderr[-2000:]}")
    run = RunStore(runs_dir).resolve(run_id)
    info = run.raw_info()
    cfg = load_config(experiment, overrides)
    tps = cfg.train.batch_size * cfg.model.block_size * cfg.train.grad_accum
    r = run.reader()
    try:
        step_ms = r.series("perf/step_ms", max_points=10**9)
        eval_s = [v for _, v in r.series("perf/eval_s", max_points=10**9)]
        sample_s = [v for _, v in r.series("perf/sample_s", max_points=10**9)]
        compile_s = r.last("perf/compile_s")
    finally:
        r.close()
    run_wall = (info.ended or 0) - (info.started or 0)
    total, median = window_tok_s(step_ms, tps, skip, steps)
    return {"tok_per_s": total, "tok_per_s_median_window": median, "eval_s": eval_s, "sample_s": sample_s,
            "run_wall_s": run_wall, "process_wall_s": wall, "compile_s": compile_s.value if compile_s else None,
            "step_ms": statistics.median([v for s, v in step_ms if s > skip] or [float("nan")]),
            "tokens_per_step": tps}


def project(cfg, step_ms: float, eval_s: float, sample_s: float) -> float:
    """Eval + sample share of a full-length run of `cfg` at the measured costs."""
    n = cfg.train.max_steps
    evals = (n // cfg.eval.interval if cfg.eval.interval else 0) + 1  # the loop's, plus the final one
    evals -= 1 if cfg.eval.interval and n % cfg.eval.interval == 0 else 0  # the last step's is the final one
    samples = 0
    if cfg.sample.interval >= 0:
        samples = (n // cfg.sample.interval if cfg.sample.interval > 0 else 0) + 1
        samples -= 1 if cfg.sample.interval > 0 and n % cfg.sample.interval == 0 else 0
    aside = evals * eval_s + samples * sample_s
    return aside / (n * step_ms / 1000 + aside)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("experiment", nargs="?", default=str(ROOT / "experiments" / "cpu.toml"))
    ap.add_argument("--steps", type=int, default=300, help="steps of each run (default 300)")
    ap.add_argument("--skip", type=int, default=10, help="first steps left out of tok/s (default 10)")
    ap.add_argument("--repeats", type=int, default=3, help="pairs of runs (default 3)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override for both (repeatable)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed per run")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the run store (its path is printed)")
    args = ap.parse_args(argv)
    from workbench.bench import machine
    from workbench.config import load_config

    load_config(args.experiment, args.overrides)  # bad input fails here, before any run
    tmp = Path(tempfile.mkdtemp(prefix="wb-overhead-"))
    print(f"{args.experiment}: {args.steps} steps, tok/s over steps {args.skip + 1}..{args.steps}, "
          f"{args.repeats} pairs; store in {tmp}", flush=True)
    pairs = []
    try:
        for i in range(args.repeats):
            ref = run_reference(args.experiment, args.steps, args.skip, args.overrides, args.timeout)
            wb = run_workbench(args.experiment, args.steps, args.skip, args.overrides, tmp, f"overhead-{i}",
                               args.timeout)
            ratio = wb["tok_per_s_median_window"] / ref["tok_per_s_median_window"]
            ratio_total = wb["tok_per_s"] / ref["tok_per_s"]
            aside = sum(wb["eval_s"]) + sum(wb["sample_s"])
            pairs.append({"reference": ref, "workbench": wb, "ratio": ratio, "ratio_total": ratio_total,
                          "aside_share": aside / wb["run_wall_s"] if wb["run_wall_s"] > 0 else None})
            print(f"  #{i + 1}: median window: reference {ref['tok_per_s_median_window']:9,.0f} tok/s, "
                  f"workbench {wb['tok_per_s_median_window']:9,.0f} tok/s, ratio {ratio:.4f}; all windows: "
                  f"ratio {ratio_total:.4f};  eval {sum(wb['eval_s']):.2f} s ({len(wb['eval_s'])}x), "
                  f"sample {sum(wb['sample_s']):.2f} s ({len(wb['sample_s'])}x) of {wb['run_wall_s']:.1f} s wall",
                  flush=True)
    finally:
        if args.keep:
            print(f"run store kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    ratio = statistics.median(p["ratio"] for p in pairs)
    evals = [v for p in pairs for v in p["workbench"]["eval_s"]]
    samples = [v for p in pairs for v in p["workbench"]["sample_s"]]
    step_ms = statistics.median(p["workbench"]["step_ms"] for p in pairs)
    measured = statistics.median(p["aside_share"] for p in pairs if p["aside_share"] is not None)
    full_cfg = load_config(args.experiment, [o for o in args.overrides if not o.startswith("train.max_steps")])
    projected = project(full_cfg, step_ms, statistics.median(evals) if evals else 0.0,
                        statistics.median(samples) if samples else 0.0)
    spread = (max(p["ratio"] for p in pairs) - min(p["ratio"] for p in pairs)) if len(pairs) > 1 else 0.0
    ratio_total = statistics.median(p["ratio_total"] for p in pairs)
    print(f"ratio workbench/reference, median window tok/s, median of {len(pairs)} pairs: {ratio:.4f} "
          f"({'meets' if ratio >= 0.97 else 'MISSES'} the 0.97 goal; pair-to-pair spread {spread:.3f}); "
          f"over all windows: {ratio_total:.4f}")
    print(f"eval + sample share of wall time: {measured:.1%} in these {args.steps}-step runs; "
          f"{projected:.1%} projected for the full {full_cfg.train.max_steps}-step run "
          f"(eval every {full_cfg.eval.interval} steps on {full_cfg.eval.batches} batches: "
          f"{statistics.median(evals) if evals else 0:.2f} s each; sample every {full_cfg.sample.interval}: "
          f"{statistics.median(samples) if samples else 0:.2f} s each; {step_ms:.1f} ms/step)")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": machine(), "experiment": args.experiment, "steps": args.steps, "skip": args.skip,
            "ratio": ratio, "ratio_all_windows": ratio_total, "eval_sample_share_measured": measured, "eval_sample_share_projected": projected,
            "pairs": pairs}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
