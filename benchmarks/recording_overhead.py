"""Recording API overhead: a loop that logs 10,000 points a second, with and without logging.
Budget: at most 2% slower.

    python benchmarks/recording_overhead.py                  # 3 s segments, 5 of each
    python benchmarks/recording_overhead.py --seconds 5 --repeats 7 --keys 2

The loop's work is plain Python that takes 100 us an iteration (calibrated first), so
10,000 iterations a second; "on" calls workbench.log({...}, step=i) once an iteration
with --keys values, while the metrics writer's thread commits in the background (as in
a real run; telemetry sampling is on too, at its 1 s default). "off" runs the same loop
without the call. Segments alternate (off, on, off, on, …) so drift in the machine's
speed hits both; the overhead is median(on) / median(off) - 1 of the loop's wall time.
Creating and finishing the run is outside the timed loop.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import workbench  # noqa: E402


def work(n: int) -> int:
    s = 0
    for i in range(n):
        s += i * i
    return s


def calibrate(target_s: float) -> int:
    """Loop count of `work` that takes about target_s (the fastest of many tries: on a busy
    machine the slow ones are the ones other processes cut into)."""
    n = 1000
    best = min(_timed(n) for _ in range(200))
    return max(1, int(n * target_s / best))


def _timed(n: int) -> float:
    t0 = time.perf_counter()
    work(n)
    return time.perf_counter() - t0


def segment(iters: int, n: int, log: bool, runs_dir: Path, keys: int) -> float:
    values = {f"k{j}": 0.0 for j in range(keys - 1)}
    if log:
        workbench.init(config={"bench": True}, name="overhead", runs_dir=runs_dir, exit_hooks=False)
    t0 = time.perf_counter()
    if log:
        for i in range(iters):
            work(n)
            values["loss"] = 1.0 / (i + 1)
            workbench.log(values, step=i)
    else:
        for i in range(iters):
            work(n)
            values["loss"] = 1.0 / (i + 1)
    dt = time.perf_counter() - t0
    if log:
        workbench.finish()
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="length of one segment")
    ap.add_argument("--repeats", type=int, default=5, help="segments of each kind")
    ap.add_argument("--rate", type=float, default=10_000, help="iterations (logged points) per second")
    ap.add_argument("--keys", type=int, default=1, help="values per log call")
    ap.add_argument("--chunk", type=int, default=0,
                    help="rows per INSERT statement in the writer (default: the writer's own; 1 = one "
                         "statement per row, as executemany does)")
    args = ap.parse_args()
    if args.chunk:
        from workbench.metrics import MetricsWriter

        MetricsWriter.CHUNK = args.chunk
    n = calibrate(1.0 / args.rate)
    iters = int(args.seconds * args.rate)
    off, on = [], []
    with tempfile.TemporaryDirectory() as tmp:
        segment(iters // 10, n, True, Path(tmp), args.keys)  # warm up both paths
        segment(iters // 10, n, False, Path(tmp), args.keys)
        for r in range(args.repeats):
            off.append(segment(iters, n, False, Path(tmp), args.keys))
            on.append(segment(iters, n, True, Path(tmp), args.keys))
            print(f"repeat {r + 1}: off {off[-1]:.3f} s, on {on[-1]:.3f} s "
                  f"({iters / off[-1]:,.0f} vs {iters / on[-1]:,.0f} points/s)", flush=True)
    print(f"{n} work units an iteration; chunk {args.chunk or 'default'}")
    ratio = statistics.median(on) / statistics.median(off)
    per_call_us = (statistics.median(on) - statistics.median(off)) / iters * 1e6
    print(f"overhead: {100 * (ratio - 1):+.2f}% of the loop's time ({per_call_us:.2f} us a log call "
          f"of {args.keys} value(s) at {args.rate:,.0f} calls/s); budget +2%: "
          f"{'within' if ratio <= 1.02 else 'OVER'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
