"""The recording API (workbench.init/log/log_text/finish) from real script processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, workbench_cmd, workbench_env
from workbench.store import RunStore

SCRIPT = """
import os, sys, time
import workbench
workbench.init(config={"lr": 3e-4, "model": {"n_layer": 2}, "note": None}, name="api",
               runs_dir=sys.argv[1], tags=["t1"], telemetry_interval=0.2)
for step in range(1, 21):
    workbench.log({"loss": 3.0 - 0.1 * step, "lr": 3e-4, "note": "text is left out"}, step=step,
                  tokens=step * 100)
workbench.log({"val_loss": 2.5}, step=20)
workbench.log_text("sample", "ROMEO: hello", step=20)
mode = sys.argv[2]
print("logged", flush=True)
if mode == "fail":
    raise ValueError("bad batch")
if mode == "wait":
    time.sleep(60)
if mode == "exit3":
    sys.exit(3)
if mode == "finish":
    workbench.finish()
"""


def run_script(tmp_path: Path, mode: str, code: str = SCRIPT) -> subprocess.CompletedProcess:
    script = tmp_path / "train_api.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run([sys.executable, str(script), str(tmp_path / "runs"), mode], capture_output=True,
                          text=True, env=workbench_env(), timeout=60, cwd=tmp_path)


def only_run(tmp_path: Path):
    store = RunStore(tmp_path / "runs")
    runs = store.runs()
    assert len(runs) == 1
    return runs[0]


@pytest.mark.parametrize("mode", ["end", "finish"])
def test_script_run_finishes_and_is_first_class(tmp_path, mode):
    p = run_script(tmp_path, mode)
    assert p.returncode == 0, p.stderr
    run = only_run(tmp_path)
    info = run.info()
    assert (info.status, info.kind, info.experiment, info.tags) == ("finished", "script", "api", ["t1"])
    assert info.argv[0].endswith("train_api.py") and info.cwd == str(tmp_path)
    r = run.reader()
    assert r.last("train/loss").value == pytest.approx(1.0)
    assert r.last("train/loss").tokens == 2000
    assert r.last("train/lr").value == pytest.approx(3e-4)
    assert r.last("eval/val_loss").step == 20
    assert "note" not in r.keys()
    assert [s.text for s in r.samples()] == ["ROMEO: hello"]
    r.close()
    assert info.summary["final_train_loss"] == pytest.approx(1.0)
    assert info.summary["best_val_loss"] == pytest.approx(2.5)
    assert run.config_values() == {"lr": 3e-4, "model": {"n_layer": 2}}
    # listed, shown and diffed like any run
    env = workbench_env()
    ls = subprocess.run(workbench_cmd("ls", "--runs-dir", str(tmp_path / "runs")), capture_output=True,
                        text=True, env=env, timeout=30)
    assert run.id in ls.stdout and "finished" in ls.stdout
    show = subprocess.run(workbench_cmd("show", run.id, "--json", "--runs-dir", str(tmp_path / "runs")),
                          capture_output=True, text=True, env=env, timeout=30)
    assert json.loads(show.stdout)["config"] == {"lr": 3e-4, "model": {"n_layer": 2}}


def test_two_script_runs_diff(tmp_path):
    code = SCRIPT.replace('"lr": 3e-4, "model"', '"lr": float(os.environ["LR"]), "model"')
    for lr in ("3e-4", "1e-3"):
        script = tmp_path / "t.py"
        script.write_text(textwrap.dedent(code))
        p = subprocess.run([sys.executable, str(script), str(tmp_path / "runs"), "end"], capture_output=True,
                           text=True, env=workbench_env(LR=lr), timeout=60)
        assert p.returncode == 0, p.stderr
        time.sleep(1.05)  # run ids have a one-second clock; -2 suffixes would do too
    a, b = sorted(r.id for r in RunStore(tmp_path / "runs").runs())
    p = subprocess.run(workbench_cmd("diff", a, b, "--runs-dir", str(tmp_path / "runs")), capture_output=True,
                       text=True, env=workbench_env(), timeout=30)
    assert p.returncode == 0, p.stderr
    assert "lr" in p.stdout and "0.0003" in p.stdout and "0.001" in p.stdout
    assert "model.n_layer" not in p.stdout
    p = subprocess.run(workbench_cmd("compare", a, b, "--no-plot", "--runs-dir", str(tmp_path / "runs")),
                       capture_output=True, text=True, env=workbench_env(), timeout=30)
    assert p.returncode == 0, p.stderr
    assert "config keys that differ" in p.stdout and "lr" in p.stdout
    archive = tmp_path / "a.tar.gz"
    p = subprocess.run(workbench_cmd("export", a, "-o", str(archive), "--runs-dir", str(tmp_path / "runs")),
                       capture_output=True, text=True, env=workbench_env(), timeout=30)
    assert p.returncode == 0 and archive.stat().st_size > 0, p.stderr


def test_uncaught_exception_fails_the_run(tmp_path):
    p = run_script(tmp_path, "fail")
    assert p.returncode == 1
    assert "ValueError: bad batch" in p.stderr  # the script's own traceback still shows
    info = only_run(tmp_path).info()
    assert info.status == "failed"
    assert info.reason == "ValueError: bad batch"
    assert info.summary["final_train_loss"] == pytest.approx(1.0)  # what was logged is kept


def test_sys_exit_nonzero_fails_the_run(tmp_path):
    p = run_script(tmp_path, "exit3")
    assert p.returncode == 3
    info = only_run(tmp_path).info()
    assert (info.status, info.reason) == ("failed", "exited with 3")


def test_sigterm_stops_the_run(tmp_path):
    script = tmp_path / "train_api.py"
    script.write_text(textwrap.dedent(SCRIPT))
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "runs"), "wait"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=workbench_env(),
                            start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "logged"
        run = only_run(tmp_path)
        assert run.info().status == "running"
        r = run.reader()
        deadline = time.monotonic() + 20  # the process's own telemetry, committed about once a second
        while "cpu/rss_bytes" not in r.telemetry_keys() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "cpu/rss_bytes" in r.telemetry_keys()
        r.close()
        # `workbench stop`: what the CLI and the TUI's x do
        p = subprocess.run(workbench_cmd("stop", run.id, "--timeout", "20", "--runs-dir", str(tmp_path / "runs")),
                           capture_output=True, text=True, env=workbench_env(), timeout=40)
        assert p.returncode == 0, p.stdout + p.stderr
        assert proc.wait(timeout=20) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    info = run.info()
    assert (info.status, info.reason) == ("stopped", "stopped by SIGTERM")
    r = run.reader()
    assert r.last("train/loss").step == 20
    r.close()


def test_import_workbench_for_logging_stays_light():
    code = ("import sys, workbench; workbench.log; import workbench.compat.wandb, workbench.command_run; "
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('torch', 'textual', 'numpy', 'rich')]; "
            "print(heavy)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=workbench_env(),
                       timeout=60, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


def test_log_without_step_counts_on(tmp_path):
    import workbench.recording as recording

    rec = recording.init(config={}, name="inproc", runs_dir=tmp_path / "runs", telemetry_interval=0,
                         exit_hooks=False)
    try:
        recording.log({"loss": 1.0})
        recording.log({"loss": 0.5})
        recording.log({"loss": 0.25}, step=10)
        recording.log({"acc": 0.9})
    finally:
        assert recording.finish() == "finished"
    r = rec.run.reader()
    rows, _ = r.scalars_since(0, keys=["train/loss"])
    assert [(s.step, s.value) for s in rows] == [(0, 1.0), (1, 0.5), (10, 0.25)]
    assert r.last("acc").step == 11
    r.close()


def test_torchrun_ranks_other_than_0_record_nothing(tmp_path):
    code = (SCRIPT.replace('mode = sys.argv[2]', 'mode = sys.argv[2]; assert workbench.finish() == ""')
            + "\nimport workbench.compat.wandb as wandb\nwandb.init(config={'a': 1}, dir=sys.argv[1])\n"
              "wandb.config.b = 2\nwandb.log({'loss': 1.0})\nwandb.summary['x'] = 1\nwandb.finish()\n")
    script = tmp_path / "rank1.py"
    script.write_text(textwrap.dedent(code))
    p = subprocess.run([sys.executable, str(script), str(tmp_path / "runs"), "end"], capture_output=True,
                       text=True, env=workbench_env(RANK="1", WORLD_SIZE="2"), timeout=60, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert not (tmp_path / "runs").exists()
