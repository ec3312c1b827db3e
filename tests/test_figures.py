"""One truth for numbers: smoothing, the ETA's rate, and a run's tok/s the same everywhere."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from conftest import wait_for_pilot
from test_trainer import tiny_cfg

from workbench import keys
from workbench.cli import main
from workbench.config import config_to_toml
from workbench.formatting import fmt_duration, fmt_rate
from workbench.smoothing import SmoothedRate, ema, eta_seconds
from workbench.store import RunStore


def test_ema_is_bias_corrected_and_zero_is_raw():
    assert ema([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])  # no pull towards 0
    assert ema([1.0, 3.0], 0.0) == [1.0, 3.0]
    smooth = ema([0.0, 10.0, 0.0, 10.0] * 20, 0.9)
    assert 3.0 < smooth[-1] < 7.0 and smooth[0] == 0.0
    assert ema([1.0, float("nan"), 1.0], 0.5)[1] != ema([1.0, float("nan"), 1.0], 0.5)[1]  # nan kept


def test_smoothed_rate_and_eta():
    rate = SmoothedRate(beta=0.5)
    assert rate.steps_per_s is None
    rate.update(10, 1.0)
    assert rate.steps_per_s == pytest.approx(10.0)  # bias-corrected: the first window is the rate
    rate.update(10, 2.0)
    assert 5.0 < rate.steps_per_s < 10.0
    assert eta_seconds(10.0, step=50, tokens=500, tokens_per_step=10, max_steps=100) == pytest.approx(5.0)
    assert eta_seconds(10.0, step=50, tokens=500, tokens_per_step=10, max_steps=100,
                       max_tokens=600) == pytest.approx(1.0)
    assert eta_seconds(None, step=5, tokens=0, tokens_per_step=1, max_time=60, train_time=20) == 40
    assert eta_seconds(None, step=5, tokens=0, tokens_per_step=1, max_steps=10) is None


def test_summary_counts_eta_down_from_when_it_was_logged(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.run("r")
    run.path.mkdir(parents=True)
    # running, and alive: this process stands for its trainer (a dead one's figures stop at its end)
    run.update_info(id="r", status="running", started=1000.0, pid=os.getpid())
    with run.writer() as w:
        w.scalars(10, 100, {keys.TRAIN_LOSS: 2.0, keys.ETA_S: 30.0, keys.TRAIN_TIME_S: 9.0,
                            keys.TOK_PER_S_MEAN: 50.0, keys.TOK_PER_S: 60.0}, t=1010.0)
    s = run.summary(now=1020.0)
    assert s["eta_s"] == pytest.approx(20.0) and s["wall_time_s"] == pytest.approx(20.0)
    assert s["train_time_s"] == 9.0 and s["tokens_per_sec"] == 50.0 and s["tokens_per_sec_last"] == 60.0
    run.update_info(status="finished", ended=1025.0)
    assert run.summary(now=2000.0)["eta_s"] is None and run.summary()["wall_time_s"] == 25.0


def test_one_tok_per_s_in_ls_show_summary_and_dashboard(tmp_path, capsys):
    """The acceptance check of issue 15: one run, one tok/s, wherever it is shown."""
    cfg = tiny_cfg(tmp_path, train__max_steps=12, train__log_interval=4, eval__interval=6,
                   sample__interval=0)
    exp = tmp_path / "t.toml"
    exp.write_text(config_to_toml(cfg))
    runs = tmp_path / "runs"
    assert main(["run", str(exp), "--runs-dir", str(runs)]) == 0
    end_summary = capsys.readouterr().out
    assert main(["ls", "--json", "--runs-dir", str(runs)]) == 0
    listed = json.loads(capsys.readouterr().out)[0]
    assert main(["show", listed["id"], "--json", "--runs-dir", str(runs)]) == 0
    shown = json.loads(capsys.readouterr().out)["summary"]
    tok_s = listed["tokens_per_sec"]
    assert tok_s and tok_s == shown["tokens_per_sec"]
    assert listed["train_time_s"] == shown["train_time_s"] and listed["wall_time_s"] == shown["wall_time_s"]
    assert 0 < listed["train_time_s"] <= listed["wall_time_s"]
    assert f"tok/s (mean)         {fmt_rate(tok_s)}" in end_summary
    # train.log's ETA is the one recorded (the dashboard counts that one down)
    reader = RunStore(runs).run(listed["id"]).reader()
    recorded = {int(x): v for x, v in reader.series(keys.ETA_S)}
    reader.close()
    printed = {int(line.split()[1].split("/")[0]): line.rsplit("ETA ", 1)[1]
               for line in end_summary.splitlines() if line.startswith("step ") and "ETA" in line}
    assert recorded and {step: fmt_duration(v) for step, v in recorded.items()} == \
        {step: eta for step, eta in printed.items() if eta != "n/a"}
    header = asyncio.run(dashboard_header(runs, tmp_path, listed["id"]))
    assert f"{fmt_rate(tok_s)} tok/s mean" in header


async def dashboard_header(runs, tmp_path, run_id: str) -> str:
    from workbench.tui.app import WorkbenchApp
    from workbench.tui.screens.dashboard import DashboardScreen
    from workbench.tui.widgets.progress_header import ProgressHeader

    app = WorkbenchApp(runs, tmp_path, location="~", poll_interval=0.1)
    async with app.run_test(size=(160, 40)) as pilot:
        app.open_run(run_id)

        def header():
            found = app.screen.query(ProgressHeader) if isinstance(app.screen, DashboardScreen) else []
            return found and found.first().summary and str(found.first().build())

        return await wait_for_pilot(pilot, header, timeout=10, what="the run's summary in the header")
