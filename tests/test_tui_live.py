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
from conftest import ROOT, workbench_env

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
    from workbench.tui.widgets.loss_plot import LossPlot

    exp = experiments(tmp_path)
    runs = tmp_path / "runs"

    async def go() -> None:
        app = WorkbenchApp(runs, exp, location="~", poll_interval=0.2)
        async with app.run_test(size=(100, 30)) as pilot:
            async def wait(cond, timeout, what):
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    try:
                        if cond():
                            return
                    except Exception:  # noqa: BLE001 - not composed yet
                        pass
                    await pilot.pause(0.1)
                log = "".join(p.read_text() for p in runs.glob("*/train.log"))
                raise AssertionError(f"timed out waiting for {what}; train.log:\n{log[-2000:]}")

            await pilot.pause(0.3)
            await pilot.press("S")
            assert isinstance(app.screen, OverridesScreen)
            await pilot.press(*"train.max_steps=400 eval.interval=50", "enter")
            await wait(lambda: isinstance(app.screen, DashboardScreen) and app.screen.query(LossPlot),
                       10, "the dashboard")
            dash = app.screen
            plot = dash.query_one(LossPlot)
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


def tmux(*args: str, check: bool = True) -> str:
    r = subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=20)
    if check and r.returncode != 0:
        raise AssertionError(f"tmux {' '.join(args)}: {r.stderr}")
    return r.stdout


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed; the end-to-end TUI test drives it")
def test_workbench_in_tmux(tmp_path):
    exp = experiments(tmp_path)
    runs = tmp_path / "runs"
    session = f"wb-e2e-{os.getpid()}"
    env = workbench_env()
    cmd = (f"cd {tmp_path} && PYTHONPATH={env['PYTHONPATH']} {sys.executable} -m workbench "
           f"--runs-dir {runs} --experiments-dir {exp}; echo TUI-EXITED; sleep 60")

    def start() -> None:
        tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "30", cmd)

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", session)

    def wait(text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = screen()
            if text in shown:
                return shown
            time.sleep(0.3)
        raise AssertionError(f"{text!r} did not appear within {timeout} s; the screen:\n{shown}")

    try:
        start()
        wait("tiny char GPT", 15)
        tmux("send-keys", "-t", session, "s")
        wait("x: step", 15)  # the dashboard
        shown = wait("⢕ train", 90)  # the loss curve legend: points arrived
        assert "running" in shown
        tmux("send-keys", "-t", session, "q")
        wait("TUI-EXITED", 15)
        (run_dir,) = list(runs.iterdir())
        assert RunStore(runs).run(run_dir.name).info().status in ("running", "finished")  # quitting never stops
        tmux("kill-session", "-t", session)
        start()
        wait("tiny char GPT", 15)
        tmux("send-keys", "-t", session, "Tab")
        shown = wait(run_dir.name, 15)
        tmux("send-keys", "-t", session, "Enter")
        shown = wait("vs char.toml" if "extends" in TINY.read_text() else "vs defaults", 15)
        assert run_dir.name in shown
        tmux("send-keys", "-t", session, "q")
        wait("TUI-EXITED", 15)
    finally:
        tmux("kill-session", "-t", session, check=False)
        kill_runs(runs)
