"""The TUI with a real trainer: tiny.toml started from the TUI, seen updating live, stopped;
and the real `workbench` command driven in tmux (start, watch, quit, open again, find the run).

Every child is stopped or killed in a finally, with timeouts.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, wait_for, wait_for_pilot, workbench_env

from workbench.store import RunStore

pytest.importorskip("textual")
pytest.importorskip("torch")

TINY = ROOT / "experiments" / "tiny.toml"


def kill_runs(runs_dir: Path) -> None:
    """SIGKILL every run's process group that is still there, and reap it if it is our child."""
    for info_path in runs_dir.glob("*/run.json"):
        info = json.loads(info_path.read_text())
        pgid = info.get("pgid") or info.get("pid")
        if not pgid:
            continue
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            os.waitpid(info.get("pid") or pgid, 0)
        except (ChildProcessError, OSError):
            pass


def experiments(tmp_path: Path) -> Path:
    exp = tmp_path / "experiments"
    exp.mkdir()
    shutil.copy(TINY, exp / "tiny.toml")
    return exp


def test_start_tiny_from_the_tui_and_watch_it(tmp_path):
    from workbench.tui.app import WorkbenchApp
    from workbench.tui.screens.dashboard import DashboardScreen
    from workbench.tui.screens.overrides import OverridesScreen
    from workbench.tui.widgets.metric_chart import MetricChart

    exp = experiments(tmp_path)
    runs = tmp_path / "runs"

    async def go() -> None:
        app = WorkbenchApp(runs, exp, location="~", poll_interval=0.2)
        async with app.run_test(size=(100, 30)) as pilot:
            def train_log() -> str:
                return "train.log:\n" + "".join(p.read_text() for p in runs.glob("*/train.log"))[-2000:]

            async def wait(cond, timeout, what):
                await wait_for_pilot(pilot, cond, timeout, what, interval=0.1, detail=train_log,
                                     ignore=(Exception,))

            await pilot.pause(0.3)
            await pilot.press("S")
            assert isinstance(app.screen, OverridesScreen)
            await pilot.press(*"train.max_steps=400 eval.interval=50", "enter")
            await wait(lambda: isinstance(app.screen, DashboardScreen) and app.screen.query(MetricChart),
                       10, "the dashboard")
            dash = app.screen
            plot = dash.query_one(MetricChart)
            await wait(lambda: plot.curves and len(plot.curves[0][1]) >= 2, 90, "the first loss points")
            first = plot.curves[0][1][-1][0]
            await wait(lambda: plot.curves[0][1][-1][0] > first, 30, "new points")
            assert RunStore(runs).run(dash.run_id).config().train.max_steps == 400
            await pilot.press("x")
            await pilot.press("y")
            await wait(lambda: dash.status == "stopped", 60, "the run to stop")
            await pilot.press("q")

    try:
        asyncio.run(go())
    finally:
        kill_runs(runs)


class Tmux:
    """A tmux server of the test's own (`-L`, no user config), so no other tmux server,
    and no server left exiting by an earlier test, can answer our commands. The TUI is
    restarted with `respawn-pane` inside the same session: killing the last session makes
    the server exit, and a new-session racing that exit is what failed now and then."""

    def __init__(self, name: str) -> None:
        self.socket = name
        self.session = "wb"

    def __call__(self, *args: str, check: bool = True) -> str:
        r = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args],
                           capture_output=True, text=True, timeout=20)
        if check and r.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: {r.stderr}")
        return r.stdout

    def start(self, cmd: str, width: int = 100, height: int = 30) -> None:
        self("new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height), cmd)

    def restart(self, cmd: str) -> None:
        self("respawn-pane", "-k", "-t", self.session, cmd)

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", self.session, *keys)

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", self.session)

    def wait(self, text: str, timeout: float) -> str:
        def shown() -> str | None:
            screen = self.screen()
            return screen if text in screen else None

        return wait_for(shown, timeout, f"{text!r} on the screen", interval=0.3, detail=self.screen)

    def close(self) -> None:
        self("kill-server", check=False)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed; the end-to-end TUI test drives it")
def test_workbench_in_tmux(tmp_path):
    exp = experiments(tmp_path)
    runs = tmp_path / "runs"
    env = workbench_env()
    cmd = (f"cd {tmp_path} && PYTHONPATH={env['PYTHONPATH']} {sys.executable} -m workbench "
           f"--runs-dir {runs} --experiments-dir {exp}; echo TUI-EXITED; sleep 60")
    tmux = Tmux(f"wb-e2e-{os.getpid()}-{time.monotonic_ns()}")
    try:
        tmux.start(cmd)
        tmux.wait("tiny char GPT", 60)
        tmux.keys("s")
        tmux.wait("x: step", 60)  # the dashboard
        shown = tmux.wait("━ train", 180)  # the loss chart's legend names drawn curves: points arrived
        assert "running" in shown
        tmux.keys("q")
        tmux.wait("TUI-EXITED", 30)
        (run_dir,) = list(runs.iterdir())
        assert RunStore(runs).run(run_dir.name).info().status in ("running", "finished")  # quitting never stops
        tmux.restart(cmd)
        tmux.wait("tiny char GPT", 60)
        tmux.keys("Tab")
        tmux.wait(run_dir.name, 30)
        tmux.keys("Enter")
        shown = tmux.wait("vs char.toml" if "extends" in TINY.read_text() else "vs defaults", 30)
        assert run_dir.name in shown
        tmux.keys("q")
        tmux.wait("TUI-EXITED", 30)
    finally:
        tmux.close()
        kill_runs(runs)
