"""Run the end-to-end tmux test many times in a row and report every failure.

    python benchmarks/tmux_loop.py [--times 20] [--load]

The default suite runs it once; this is how its flakiness is measured. `--load` starts a
CPU-only training run beside it (both cores busy) for the whole loop, as on a shared box.
Exit status 1 when any repetition failed; each failure's last lines are printed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/test_tui_live.py::test_workbench_in_tmux"


def start_load(runs_dir: str) -> subprocess.Popen:
    """A tiny CPU run with many steps: keeps both cores busy while the loop goes on."""
    cmd = [sys.executable, "-m", "workbench", "--runs-dir", runs_dir, "run", "experiments/tiny.toml",
           "--set", "train.max_steps=1000000", "--set", "train.max_time=3600"]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--times", type=int, default=20, help="repetitions (default 20)")
    ap.add_argument("--load", action="store_true", help="train a CPU run beside the loop")
    args = ap.parse_args()
    failures: list[tuple[int, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        load = start_load(tmp) if args.load else None
        try:
            for i in range(1, args.times + 1):
                t0 = time.monotonic()
                r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST],
                                   cwd=ROOT, capture_output=True, text=True, timeout=900)
                ok = r.returncode == 0
                print(f"{i:3d}/{args.times}  {'pass' if ok else 'FAIL'}  {time.monotonic() - t0:5.1f} s", flush=True)
                if not ok:
                    failures.append((i, "\n".join((r.stdout + r.stderr).splitlines()[-25:])))
        finally:
            if load is not None:
                load.terminate()
                load.wait(timeout=60)
    for i, tail in failures:
        print(f"\n--- repetition {i} failed:\n{tail}")
    print(f"\n{args.times - len(failures)}/{args.times} passed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
