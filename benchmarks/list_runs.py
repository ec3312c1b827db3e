"""How long do `workbench ls` and the TUI's run list take with 1000 runs in the store?

    python benchmarks/list_runs.py [--runs 1000]

Makes a store of finished runs (each with a real metrics.sqlite) in a temp folder,
then times RunStore.list_runs() plus each run's summary (what `workbench ls`
shows), and the whole `workbench ls` command in a fresh process.
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

from workbench.config import Config  # noqa: E402
from workbench.store import RunStore  # noqa: E402


def make_store(root: Path, n: int) -> RunStore:
    store = RunStore(root)
    cfg = Config()
    for i in range(n):
        cfg.experiment.name = f"exp{i % 7}"
        run = store.create_run(store.new_run_id(cfg.experiment.name, now=1.7e9 + i), cfg)
        with run.writer() as w:
            for step in range(0, 1000, 50):
                w.scalars(step, step * 100, {"train/loss": 3.0 - step / 1000, "perf/tok_per_s": 1e5})
            w.scalars(1000, 100_000, {"eval/val_loss": 1.5})
        run.mark_ended("finished" if i % 5 else "stopped")
    return store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        store = make_store(Path(tmp) / "runs", args.runs)
        print(f"made {args.runs} runs in {time.perf_counter() - t0:.1f} s")

        from workbench.commands.ls import rows

        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            listed = rows(store, None, None)
            times.append(time.perf_counter() - t0)
        assert len(listed) == args.runs
        print(f"list_runs + summaries of {args.runs} runs: median {1000 * statistics.median(times):.0f} ms")

        env = dict(os.environ, PYTHONPATH=str(ROOT))
        cmd = [sys.executable, "-m", "workbench", "ls", "--runs-dir", str(store.root)]
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - t0)
        print(f"`workbench ls` as a fresh process (interpreter start included): "
              f"median {1000 * statistics.median(times):.0f} ms")


if __name__ == "__main__":
    main()
