"""A deterministic run store and experiments folder for the TUI tests and snapshots.

Fixed timestamps, ended runs only, fixed values: the same pixels every time.
"""

from __future__ import annotations

import math
from pathlib import Path

from workbench.config import load_config
from workbench.store import RunStore

T0 = 1_767_268_800.0  # 2026-01-01 12:00:00 UTC

EXPERIMENTS = {
    "char.toml": '[experiment]\ndescription = "char-level GPT"\n\n[train]\nmax_steps = 400\n',
    "tiny.toml": ('[experiment]\ndescription = "tiny char GPT"\nextends = "char.toml"\n\n'
                  '[model]\nn_layer = 2\nn_head = 2\nn_embd = 32\nblock_size = 32\n\n'
                  '[train]\nmax_steps = 200\nlr = 3e-3\n\n[system]\ndevice = "cpu"\n'),
    "ladder/fast.toml": '[experiment]\ndescription = "tiny, higher lr"\nextends = "../tiny.toml"\n\n[train]\nlr = 6e-3\n',
    "broken.toml": "[experiment\nthis is not toml\n",
}


def write_experiments(folder: Path) -> Path:
    for name, text in EXPERIMENTS.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return folder


def add_run(store: RunStore, exp_dir: Path, run_id: str, experiment: str, status: str, steps: int,
            started: float, lr_scale: float = 1.0, overrides: tuple = (), reason: str = "",
            gpu: bool = True) -> None:
    exp_file = exp_dir / f"{experiment}.toml"
    cfg = load_config(exp_file, list(overrides))
    run = store.create_run(run_id, cfg, exp_file, overrides=overrides)
    w = run.writer(flush_interval=60)
    tokens_per_step = 16 * 32
    for s in range(0, steps + 1, 10):
        t = started + s * 0.1
        loss = 1.5 + 2.7 * math.exp(-s / (60 / lr_scale))
        w.scalars(s, s * tokens_per_step, {"train/loss": loss, "train/lr": 3e-3, "perf/tok_per_s": 50_000 + 10 * s,
                                           "train/grad_norm": 1.0 + 0.5 * math.cos(s / 7),
                                           "perf/mfu": 0.30 + s / 10_000, "perf/step_ms": 10.0}, t=t)
        if s % 50 == 0 and s:
            w.scalars(s, s * tokens_per_step, {"eval/val_loss": loss + 0.08}, t=t)
        if gpu:
            w.telemetry({"gpu/util": 80 + (s % 20), "gpu/mem_used": 6e9 + s * 1e6, "gpu/mem_total": 80e9,
                         "gpu/power_w": 300.0, "gpu/temp_c": 65.0, "torch/peak": 5e9}, t=t, step=s)
        else:
            w.telemetry({"cpu/percent": 150.0, "cpu/rss_bytes": 4e8}, t=t, step=s)
        if s % 100 == 0 and s:
            w.sample(s, s * tokens_per_step, "\n", f"ROMEO:\nsample of {run_id} at step {s}\nwith a second line",
                     t=t)
    w.event("checkpoint", "saved last.pt", step=steps, t=started + steps * 0.1)
    if status == "diverged":
        w.event("diverged", f"loss is nan at step {steps}", step=steps, t=started + steps * 0.1)
    w.close()
    run.log_path.write_text(f"step {steps}: loss 1.6\n{reason or 'done'}\n")
    ended = started + steps * 0.1 + 5
    run.update_info(started=started, ended=ended, pid=None, pgid=None, hostname="", boot_id="",
                    params=120_000, device_name="NVIDIA H100 80GB HBM3" if gpu else "")
    run.update_info(status=status, reason=reason, summary=run.summary())


def make_store(root: Path) -> tuple[Path, Path]:
    """(runs_dir, experiments_dir) with three ended runs."""
    exp_dir = write_experiments(root / "experiments")
    store = RunStore(root / "runs")
    add_run(store, exp_dir, "tiny-20260101-120000", "tiny", "finished", 200, T0)
    add_run(store, exp_dir, "fast-20260101-123000", "ladder/fast", "stopped", 120, T0 + 1800, lr_scale=2.0,
            reason="stopped by SIGTERM")
    add_run(store, exp_dir, "tiny-20260101-130000", "tiny", "diverged", 60, T0 + 3600, lr_scale=3.0,
            overrides=("train.lr=0.05",), reason="loss is nan", gpu=False)
    return store.root, exp_dir
