"""Recording API overhead: a loop that logs 10,000 points a second, with and without logging.
Budget: at most 2% slower.

    python benchmarks/recording_overhead.py                  # 1 s segments, 15 of each
    python benchmarks/recording_overhead.py --seconds 3 --repeats 7 --keys 4 --verbose

The loop's work is plain Python that takes 100 us an iteration (calibrated first), so
10,000 iterations a second; "on" calls workbench.log({...}, step=i) once an iteration
with --keys values, while the metrics writer's thread commits in the background (as in
a real run; telemetry sampling is on too, at its 1 s default). "off" runs the same loop
without the call. Segments alternate (off, on, off, on, …) so drift in the machine's
speed hits both; the overhead is the median over the pairs of on / off - 1 of the loop's
wall time. Creating and finishing the run is outside the timed loop. It also prints the
cost of one log call alone (a tight loop of 100,000 calls, the writer thread running):
at 10,000 calls a second, 1 us a call is 1%.
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


def call_cost(keys: int, calls: int = 100_000) -> float:
    values = {f"k{j}": 0.5 for j in range(keys)}
    with tempfile.TemporaryDirectory() as tmp:
        workbench.init(config={}, name="call", runs_dir=Path(tmp), exit_hooks=False)
        t0 = time.perf_counter()
        for i in range(calls):
            workbench.log(values, step=i)
        dt = time.perf_counter() - t0
        workbench.finish()
    return dt / calls * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="length of one segment")
    ap.add_argument("--repeats", type=int, default=15, help="segments of each kind")
    ap.add_argument("--rate", type=float, default=10_000, help="iterations (logged points) per second")
    ap.add_argument("--keys", type=int, default=1, help="values per log call")
    ap.add_argument("--verbose", action="store_true", help="print each pair")
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
            if args.verbose:
                print(f"repeat {r + 1}: off {off[-1]:.3f} s, on {on[-1]:.3f} s "
                      f"({iters / off[-1]:,.0f} vs {iters / on[-1]:,.0f} points/s)", flush=True)
    print(f"{n} work units an iteration; chunk {args.chunk or 'default'}")
    ratio = statistics.median(b / a for a, b in zip(off, on, strict=True))
    spread = sorted(100 * (b / a - 1) for a, b in zip(off, on, strict=True))
    print(f"overhead: {100 * (ratio - 1):+.2f}% of the loop's time at {args.rate:,.0f} log calls/s of "
          f"{args.keys} value(s) (pairs from {spread[0]:+.1f}% to {spread[-1]:+.1f}%); budget +2%: "
          f"{'within' if ratio <= 1.02 else 'OVER'}")
    print(f"one log call alone: {call_cost(args.keys):.2f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
