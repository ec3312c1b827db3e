"""Contention said out loud: other processes' CPU use is measured (ours excluded), bench
reports it, the dashboard warns, and system.threads caps torch's CPU threads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from conftest import ROOT

from workbench import contention, keys

BUSY = "import time\nt = time.time() + 20\nwhile time.time() < t: pass\n"


def start_stranger() -> int:
    """A busy process that is not our descendant (its parent shell exits at once)."""
    out = subprocess.run(["sh", "-c", f"{sys.executable} -c '{BUSY}' >/dev/null 2>&1 & echo $!"],
                         capture_output=True, text=True, timeout=30, check=True)
    return int(out.stdout.strip())


def test_cpu_watch_counts_other_processes_not_ours():
    pid = start_stranger()
    try:
        assert pid not in {c.pid for c in psutil.Process().children(recursive=True)}
        watch = contention.CpuWatch()
        time.sleep(1.5)
        others = watch.take()
        assert others >= 0.3, f"a busy stranger used only {others:.2f} cores"
        assert others <= watch.cores
    finally:
        os.kill(pid, signal.SIGKILL)


def test_heavy_share_and_message():
    assert contention.heavy_share(0.9) and not contention.heavy_share(0.05) and not contention.heavy_share(None)
    msg = contention.cpu_message(1.8, 2, [(42, "python", 1.7)])
    assert "1.8 of 2 CPU cores" in msg and "pid 42" in msg and "system.threads" in msg


def test_gpu_warnings_name_other_users(monkeypatch):
    from workbench import gpus

    status = gpus.GpuStatus(index=0, util_pct=95.0, processes=[(os.getpid(), 2 << 30), (999999, 3 << 30)])
    monkeypatch.setattr(gpus, "read_gpu", lambda i: status)
    warnings = contention.gpu_warnings(0)
    assert any("95% busy" in w for w in warnings)
    assert any("1 other process(es) hold 3.0 GiB (pid 999999)" in w for w in warnings)  # ours not counted
    monkeypatch.setattr(gpus, "read_gpu", lambda i: None)
    assert contention.gpu_warnings(0) == []


def test_dashboard_panel_warns_when_others_are_busy():
    pytest.importorskip("textual")
    from workbench.tui.widgets.telemetry_panel import TelemetryPanel

    panel = TelemetryPanel()
    panel.now = {"cpu/percent": 180.0, keys.CPU_OTHERS_SHARE: 0.6}
    assert "others use 60% of the CPU" in panel.build().plain
    panel.now[keys.CPU_OTHERS_SHARE] = 0.02
    assert "others use" not in panel.build().plain


def test_system_threads_caps_torch_threads():
    pytest.importorskip("torch")
    code = ("import torch; from workbench.config import Config; from workbench.device import resolve\n"
            "c = Config(); c.system.device = 'cpu'; c.system.threads = 1; resolve(c.system)\n"
            "print(torch.get_num_threads())")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr


def test_bench_reports_contention(tmp_path):
    pytest.importorskip("torch")
    from workbench.bench import bench_config
    from workbench.config import load_config

    cfg = load_config(ROOT / "experiments" / "tiny.toml", ["model.n_layer=1", "train.batch_size=2"])
    r = bench_config(cfg, steps=3, warmup=1)
    assert set(r["contention"]) == {"warnings", "cpu_others_cores", "cpu_cores"}
    assert r["contention"]["cpu_cores"] == psutil.cpu_count()


def test_sibling_ranks_under_torchrun_are_ours(monkeypatch):
    """Under torchrun the agent (our parent) roots the tree: a sibling rank is not "others"."""
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert contention.own_root().pid == os.getppid()
    assert os.getpid() in contention.own_pids()
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    assert contention.own_root().pid == os.getpid()
