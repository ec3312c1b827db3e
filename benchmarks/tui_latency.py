"""The TUI's latency goals, measured (the tests only catch hangs; a loaded CI box is slow).

    python benchmarks/tui_latency.py [--repeat 3]

Goals, on an idle machine:
  first frame of the home screen          < 3 s   (app built and started, no torch)
  a live run's new points on the dashboard < 1 s  (a writer at ~50 points/s)
  a key (log y) answered during live writes < 0.5 s
  a 1M-point run's dashboard drawn         < 10 s; keys after that < 0.5 s
  the telemetry sampler stops             < 1 s   (even with a 30 s interval)

Prints one line per measurement (median of --repeat) with PASS/MISS, and the machine's
load, since a busy machine explains a miss.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fixtures_store import T0, write_experiments  # noqa: E402

from workbench import telemetry  # noqa: E402
from workbench.config import load_config  # noqa: E402
from workbench.metrics import SCHEMA  # noqa: E402
from workbench.store import RunStore  # noqa: E402
from workbench.tui.app import WorkbenchApp  # noqa: E402
from workbench.tui.screens.dashboard import DashboardScreen  # noqa: E402
from workbench.tui.screens.home import HomeScreen  # noqa: E402
from workbench.tui.widgets.metric_chart import MetricChart  # noqa: E402

GOALS = {"first frame": 3.0, "new points": 1.0, "key during writes": 0.5,
         "1M-point dashboard": 10.0, "key on 1M points": 0.5, "sampler stop": 1.0}


async def until(pilot, cond, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("the TUI did not get there within 60 s")
        await pilot.pause(0.02)


async def first_frame(root: Path) -> float:
    t0 = time.monotonic()
    app = WorkbenchApp(root / "runs", write_experiments(root / "experiments"), location="~")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
    return time.monotonic() - t0


async def live_writer(root: Path) -> tuple[float, float]:
    exps = write_experiments(root / "experiments")
    store = RunStore(root / "runs")
    run_id = f"live-{time.monotonic_ns()}"
    run = store.create_run(run_id, load_config(exps / "tiny.toml"), exps / "tiny.toml")
    stop, written = threading.Event(), [0]

    def write() -> None:
        with run.writer(flush_interval=0.1) as w:
            s = 0
            while not stop.is_set():
                w.scalars(s, s * 512, {"train/loss": 4.0 - s / 1000})
                written[0], s = s, s + 1
                time.sleep(0.02)

    app = WorkbenchApp(store.root, exps, location="~", poll_interval=0.2)
    thread = threading.Thread(target=write, daemon=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
        app.open_run(run_id)
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.query(MetricChart))
        plot = app.screen.query_one(MetricChart)
        thread.start()
        try:
            await until(pilot, lambda: plot.curves and len(plot.curves[0][1]) > 5)
            lags = []
            for _ in range(5):
                target, t0 = written[0], time.monotonic()
                await until(pilot, lambda target=target: plot.curves[0][1][-1][0] >= target)
                lags.append(time.monotonic() - t0)
            t0 = time.monotonic()
            await pilot.press("l")
            key = time.monotonic() - t0
        finally:
            stop.set()
            thread.join(timeout=5)
    return max(lags), key


async def million(root: Path, n: int = 1_000_000) -> tuple[float, float]:
    store = RunStore(root / "runs-big")
    run = store.run("big")
    run.path.mkdir(parents=True, exist_ok=True)
    if not run.db_path.exists():
        con = sqlite3.connect(run.db_path)
        con.executescript(SCHEMA)
        con.execute("PRAGMA journal_mode=WAL")
        con.executemany("INSERT INTO scalars (step, tokens, time, key, value) VALUES (?, ?, ?, ?, ?)",
                        ((i, i * 512, T0 + i * 0.01, "train/loss", 4.0 / (1 + i / 1e5)) for i in range(n)))
        con.commit()
        con.close()
        run.update_info(id="big", status="finished", started=T0, ended=T0 + 1e4, max_steps=n)
    app = WorkbenchApp(store.root, root, location="~", poll_interval=0.2)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, HomeScreen))
        t0 = time.monotonic()
        app.open_run("big")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen) and app.screen.query(MetricChart))
        plot = app.screen.query_one(MetricChart)
        await until(pilot, lambda: plot.curves and plot.curves[0][1])
        drawn = time.monotonic() - t0
        t0 = time.monotonic()
        await pilot.press("l")
        key = time.monotonic() - t0
    return drawn, key


def sampler_stop() -> float:
    s = telemetry.TelemetrySampler(lambda v: None, 30.0).start()
    time.sleep(0.2)
    t0 = time.monotonic()
    s.stop()
    return time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measurement (median shown)")
    args = ap.parse_args()
    found: dict[str, list[float]] = {k: [] for k in GOALS}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for _ in range(args.repeat):
            found["first frame"].append(asyncio.run(first_frame(root)))
            lag, key = asyncio.run(live_writer(root))
            found["new points"].append(lag)
            found["key during writes"].append(key)
            drawn, key = asyncio.run(million(root))
            found["1M-point dashboard"].append(drawn)
            found["key on 1M points"].append(key)
            found["sampler stop"].append(sampler_stop())
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f} (over 1 min)")
    misses = 0
    for name, goal in GOALS.items():
        value = statistics.median(found[name])
        ok = value < goal
        misses += not ok
        print(f"{'PASS' if ok else 'MISS'}  {name:<22} {value:7.3f} s   goal < {goal} s")
    return 1 if misses else 0


if __name__ == "__main__":
    raise SystemExit(main())
