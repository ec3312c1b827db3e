"""`workbench run -- CMD` and [command] experiments: a small script that prints training lines,
run in the foreground, started detached (as the TUI does), stopped, and watched in the TUI."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import wait_for, wait_for_pilot, workbench_cmd, workbench_env
from workbench import launch
from workbench.store import RunStore

PRINTER = """
import signal, sys, time
if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
n = int(sys.argv[1])
print("number of parameters: 0.01M", flush=True)
for it in range(0, n + 1, 10):
    print(f"iter {it}: loss {4.0 - it / 100:.4f}, time 12.5ms, mfu 1.5%", flush=True)
    if it and it % 50 == 0:
        print(f"step {it}: train loss {4.0 - it / 100:.4f}, val loss {4.1 - it / 100:.4f}", flush=True)
        print({"eval_accuracy": it / 1000, "epoch": 0.5}, flush=True)
    time.sleep(float(sys.argv[2]))
sys.exit(int(sys.argv[3]))
"""


def make_project(tmp_path: Path) -> Path:
    """A git repo holding the script, with one uncommitted change."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "train.py").write_text(textwrap.dedent(PRINTER))
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-C", str(proj)]
    subprocess.run(git + ["init", "-q"], check=True, timeout=30)
    subprocess.run(git + ["add", "train.py"], check=True, timeout=30)
    subprocess.run(git + ["commit", "-qm", "script"], check=True, timeout=30)
    (proj / "train.py").write_text(textwrap.dedent(PRINTER) + "# tuned\n")
    return proj


def test_foreground_command_is_recorded(tmp_path):
    proj = make_project(tmp_path)
    runs = tmp_path / "runs"
    p = subprocess.run(workbench_cmd("run", "--runs-dir", str(runs), "--env", "WB_TEST_VAR", "--name", "fg",
                                     "--cwd", str(proj), "--", sys.executable, "train.py", "100", "0", "3"),
                       capture_output=True, text=True, env=workbench_env(WB_TEST_VAR="42"), timeout=60)
    assert p.returncode == 3  # the command's exit code, passed on
    assert "iter 100: loss 3.0000" in p.stdout  # its output is shown
    (run,) = RunStore(runs).runs()
    info = run.info()
    assert (info.status, info.reason, info.kind) == ("failed", "the command exited with code 3", "command")
    assert info.argv == [sys.executable, "train.py", "100", "0", "3"] and info.cwd == str(proj)
    assert info.env == {"WB_TEST_VAR": "42"} and info.git_commit and info.git_dirty
    assert "+# tuned" in (run.path / "git.diff").read_text()
    assert "iter 50: loss 3.5000" in run.log_path.read_text()
    assert run.config_values()["command"]["argv"][1:] == ["train.py", "100", "0", "3"]
    r = run.reader()
    assert r.last("train/loss").step == 100 and r.last("train/loss").value == 3.0
    assert r.last("eval/val_loss").value == pytest.approx(3.1)
    assert r.last("perf/mfu").value == pytest.approx(0.015) and r.last("perf/step_ms").value == 12.5
    assert r.last("eval_accuracy").value == pytest.approx(0.1) and r.last("eval_accuracy").step == 100
    r.close()


def test_a_script_using_the_api_records_into_the_command_run(tmp_path):
    script = tmp_path / "api_and_print.py"
    script.write_text(textwrap.dedent("""
        import workbench
        workbench.init(config={"lr": 0.001}, name="inner")
        for step in range(1, 4):
            workbench.log({"acc": step / 10}, step=step)
            print(f"step {step}: loss {3 - step}", flush=True)
        """))
    runs = tmp_path / "runs"
    p = subprocess.run(workbench_cmd("run", "--runs-dir", str(runs), "--cwd", str(tmp_path), "--",
                                     sys.executable, str(script)),
                       capture_output=True, text=True, env=workbench_env(), timeout=60)
    assert p.returncode == 0, p.stderr
    (run,) = RunStore(runs).runs()  # one run, not one for the command and one for the script
    info = run.info()
    assert (info.kind, info.status) == ("command", "finished")
    assert run.config_values()["script"] == {"lr": 0.001}
    r = run.reader()
    assert r.last("acc").value == pytest.approx(0.3) and r.last("train/loss").value == 0.0
    r.close()


def test_readme_command_reference_is_current():
    from tests.conftest import ROOT
    from workbench.command_file import reference_markdown

    assert reference_markdown() in (ROOT / "README.md").read_text(), \
        "README's [command] reference is stale: run scripts/config_reference.py"


def test_bad_input_leaves_no_run(tmp_path):
    runs = tmp_path / "runs"
    p = subprocess.run(workbench_cmd("run", "--runs-dir", str(runs), "--capture", "loss (\\d+)", "--", "true"),
                       capture_output=True, text=True, env=workbench_env(), timeout=30)
    assert p.returncode == 2 and "no named groups" in p.stderr
    exp = tmp_path / "cmd.toml"
    exp.write_text('[command]\nargv = ["true"]\nstop_grace_s = 1\n')
    p = subprocess.run(workbench_cmd("run", str(exp), "--runs-dir", str(runs)), capture_output=True, text=True,
                       env=workbench_env(), timeout=30)
    assert p.returncode == 2 and "unknown key 'command.stop_grace_s'; did you mean 'command.stop_grace'" in p.stderr
    assert not runs.exists() or not list(runs.iterdir())


def test_lost_terminal_stops_a_foreground_command(tmp_path):
    proj = make_project(tmp_path)
    runs = tmp_path / "runs"
    proc = subprocess.Popen(workbench_cmd("run", "--runs-dir", str(runs), "--cwd", str(proj), "--",
                                          sys.executable, "train.py", "100000", "0.05", "0"),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=workbench_env(),
                            start_new_session=True)
    try:
        assert b"iter 0:" in proc.stdout.readline() + proc.stdout.readline()
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=30) == 143  # the command's own end: SIGTERM
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        kill_runs(RunStore(runs))
    (run,) = RunStore(runs).runs()
    info = run.info()
    assert info.status == "stopped" and "SIGHUP" in info.reason


def command_experiment(tmp_path: Path, proj: Path, *args: str) -> Path:
    exp = tmp_path / "experiments"
    exp.mkdir(exist_ok=True)
    argv = ", ".join(f'"{a}"' for a in [sys.executable, "train.py", *args])
    (exp / "mine.toml").write_text(textwrap.dedent(f"""\
        [experiment]
        name = "mine"
        description = "my own script"

        [command]
        argv = [{argv}]
        cwd = "{proj}"
        env = {{ WB_SET = "yes" }}
        stop_grace = 1.0
        telemetry_interval = 0.2
        """))
    return exp / "mine.toml"


def kill_runs(store: RunStore) -> None:
    """SIGKILL what a failed test may have left: each run's runner and command groups."""
    for run in store.runs():
        info = run.raw_info()
        for pgid in {info.pgid, info.pid} - {None}:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def test_detached_stop_kills_a_command_that_ignores_sigterm(tmp_path):
    proj = make_project(tmp_path)
    store = RunStore(tmp_path / "runs")
    exp = command_experiment(tmp_path, proj, "100000", "0.05", "0", "--ignore-term")
    run = launch.start_run(store, exp)  # what the TUI's s does
    try:
        wait_for(lambda: (run.reader().last("train/loss") or None) is not None, 30, "the first point")
        info = run.info()
        assert info.kind == "command" and info.env == {"WB_SET": "yes"} and info.pgid != info.pid
        t0 = time.monotonic()
        assert launch.stop_run(run, timeout=30) == "stopped"
        assert time.monotonic() - t0 < 15  # SIGTERM ignored, SIGKILL after the 1 s grace
        assert "killed by SIGKILL" in run.info().reason
    finally:
        kill_runs(store)


def test_command_watched_in_the_tui(tmp_path):
    pytest.importorskip("textual")
    from workbench.tui.app import WorkbenchApp
    from workbench.tui.screens.dashboard import DashboardScreen
    from workbench.tui.widgets.metric_chart import MetricChart
    from workbench.tui.widgets.telemetry_panel import TelemetryPanel

    proj = make_project(tmp_path)
    exp = command_experiment(tmp_path, proj, "100000", "0.05", "0")
    runs = tmp_path / "runs"

    async def go() -> None:
        app = WorkbenchApp(runs, exp.parent, location="~", poll_interval=0.2)
        async with app.run_test(size=(100, 30)) as pilot:
            async def wait(cond, timeout, what):
                await wait_for_pilot(pilot, cond, timeout, what, interval=0.1, ignore=(Exception,))

            await pilot.pause(0.3)
            await pilot.press("s")
            await wait(lambda: isinstance(app.screen, DashboardScreen) and app.screen.query(MetricChart),
                       15, "the dashboard")
            dash = app.screen
            plot = dash.query_one(MetricChart)
            await wait(lambda: plot.curves and len(plot.curves[0][1]) >= 3, 30, "loss points")
            await wait(lambda: len(plot.curves[1][1]) >= 1, 30, "a val loss point")
            tele = dash.query_one(TelemetryPanel)
            await wait(lambda: "cpu/rss_bytes" in tele.now, 30, "the command's telemetry")
            await pilot.press("x")
            await pilot.press("y")
            await wait(lambda: dash.status == "stopped", 30, "the run to stop")
            await pilot.press("q")

    try:
        asyncio.run(go())
    finally:
        kill_runs(RunStore(runs))
