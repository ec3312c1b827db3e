"""Telemetry overhead: tok/s of the same short run with telemetry, eval and samples on
vs off, on whatever device the experiment picks. Budget: on/off >= 0.98.

    python benchmarks/telemetry_overhead.py                       # experiments/cpu.toml
    python benchmarks/telemetry_overhead.py experiments/bf16.toml --steps 500 --repeats 3

Each run is a real `python -m workbench run` subprocess writing a real run store (in a
temporary folder). "off" sets system.telemetry_interval=0, sample.interval=-1 and
eval.interval=0; "on" keeps the experiment's eval/sample settings, with eval and
samples made short so the runs stay short, and samples telemetry every --interval
seconds. Training points are logged (written to the store) the same way in both, since
tok/s is read back from the store's `perf/tok_per_s` series.

A run's speed is the median tok/s over its logging windows after the first --skip
windows (warmup, compilation), so the few windows that hold an evaluation or a sample
do not swing it; on and off runs alternate (off, on, off, on, ...) so drift in the
machine's speed hits both, and the ratio is median(on) / median(off).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_once(experiment: str, runs_dir: Path, run_id: str, overrides: list[str],
             timeout: float) -> tuple[list[tuple[float, float]], list[str], float]:
    from workbench.store import RunStore

    cmd = [sys.executable, "-m", "workbench", "run", experiment, "--run-id", run_id,
           "--runs-dir", str(runs_dir)]
    for o in overrides:
        cmd += ["--set", o]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        sys.exit(f"run failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    reader = RunStore(runs_dir).resolve(run_id).reader()
    try:
        points = reader.series("perf/tok_per_s", max_points=10**9)
        telemetry_keys = reader.telemetry_keys()
    finally:
        reader.close()
    return points, telemetry_keys, time.monotonic() - t0


def window_speed(points: list[tuple[float, float]], skip: int) -> float:
    values = [v for _, v in points[skip:]] or [v for _, v in points]
    if not values:
        sys.exit("the run logged no perf/tok_per_s points; raise --steps or lower train.log_interval")
    return statistics.median(values)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("experiment", nargs="?", default="experiments/cpu.toml")
    ap.add_argument("--steps", type=int, default=300, help="train.max_steps of each run (default 300)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each kind (default 3)")
    ap.add_argument("--interval", type=float, default=1.0, help="telemetry interval of the 'on' runs (s)")
    ap.add_argument("--log-interval", type=int, default=10, help="train.log_interval of both (default 10)")
    ap.add_argument("--skip", type=int, default=2, help="logging windows left out at the start (default 2)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="extra override for both kinds of run (repeatable)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds allowed per run")
    ap.add_argument("--keep", action="store_true", help="keep the run store (its path is printed)")
    args = ap.parse_args()

    common = [f"train.max_steps={args.steps}", f"train.log_interval={args.log_interval}",
              "checkpoint.interval=0", *args.overrides]
    kinds = {
        "off": common + ["system.telemetry_interval=0", "sample.interval=-1", "eval.interval=0"],
        "on": common + [f"system.telemetry_interval={args.interval}",
                        f"eval.interval={max(1, args.steps // 3)}", "eval.batches=5",
                        f"sample.interval={max(1, args.steps // 3)}", "sample.max_new_tokens=50"],
    }
    tmp = Path(tempfile.mkdtemp(prefix="wb-telemetry-bench-"))
    speeds: dict[str, list[float]] = {"off": [], "on": []}
    print(f"{args.experiment}: {args.steps} steps, {args.repeats} runs each, telemetry every "
          f"{args.interval:g} s when on; store in {tmp}")
    try:
        for i in range(args.repeats):
            for kind in ("off", "on"):
                points, tkeys, wall = run_once(args.experiment, tmp, f"bench-{kind}-{i}", kinds[kind], args.timeout)
                speed = window_speed(points, args.skip)
                speeds[kind].append(speed)
                extra = f", {len(tkeys)} telemetry series" if kind == "on" else ""
                if kind == "off" and tkeys:
                    extra = f", unexpected telemetry series: {tkeys}"
                print(f"  {kind:3} #{i + 1}: {speed:12,.0f} tok/s (median of {max(0, len(points) - args.skip)} "
                      f"windows; {wall:.1f} s wall{extra})", flush=True)
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    off, on = statistics.median(speeds["off"]), statistics.median(speeds["on"])
    ratio = on / off
    spread = max((max(v) - min(v)) / statistics.median(v) for v in speeds.values())
    if len(speeds["off"]) > 1 and spread > 0.02:
        verdict = (f"INCONCLUSIVE: runs of one kind differ by up to {spread:.1%}, more than the 2% "
                   "being measured; use an idle machine, more --repeats or longer --steps")
    else:
        verdict = "within the 2% budget" if ratio >= 0.98 else "OUTSIDE the 2% budget"
    print(f"off: {off:,.0f} tok/s   on: {on:,.0f} tok/s   ratio on/off: {ratio:.4f}  ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
