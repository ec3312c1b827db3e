"""NaN and Inf: recorded as events without losing the finite values beside them; the run
ends diverged, never with a non-finite checkpoint, and says 'kept' only when one exists."""

from __future__ import annotations

import math

import torch

import workbench.step as step_module
from tests.test_trainer import start, tiny_cfg
from workbench.checkpoint import load
from workbench.cli import main
from workbench.metrics import MetricsWriter
from workbench.store import RunStore
from workbench.trainer import train


def test_writer_keeps_the_finite_values_of_a_batch(tmp_path):
    db = tmp_path / "m.sqlite"
    with MetricsWriter(db) as w:
        w.scalars(1, 10, {"train/loss": 2.0, "train/grad_norm": float("nan")})
        w.scalars(2, 20, {"train/loss": 1.5, "eval/val_loss": float("inf")})
        w.put("scalars", [(3, 30, 0.0, "train/loss", float("-inf"))])  # the recording API's path
    from workbench.metrics import MetricsReader

    r = MetricsReader(db)
    try:
        assert r.series("train/loss") == [(1, 2.0), (2, 1.5)]
        messages = [e.message for e in r.events() if e.kind == "nonfinite"]
        assert len(messages) == 3 and "train/grad_norm = nan at step 1" in messages[0]
    finally:
        r.close()


def poisoned_build(monkeypatch, from_call: int, where: str):
    """Models whose output (where='loss') or gradients (where='grad') turn non-finite from
    the `from_call`-th forward pass on."""
    build = step_module.build_model
    calls = {"n": 0}

    def build_poisoned(m, vocab):
        model = build(m, vocab)

        def hook(module, args, output):
            calls["n"] += 1
            if calls["n"] < from_call:
                return output
            if where == "loss":
                return output * float("nan")
            output.register_hook(lambda g: g * float("inf"))
            return output

        model.lm_head.register_forward_hook(hook)
        return model

    monkeypatch.setattr(step_module, "build_model", build_poisoned)


def test_nan_before_any_checkpoint_says_none_was_written(tmp_path, monkeypatch):
    cfg = tiny_cfg(tmp_path, train__max_steps=40, train__log_interval=1, eval__interval=0,
                   sample__interval=-1, checkpoint__interval=100)
    run = start(tmp_path, cfg)
    poisoned_build(monkeypatch, 6, "loss")
    result = train(cfg, run)
    assert result.status == "diverged" and result.exit_code == 3
    assert "no checkpoint was written" in result.reason and "kept" not in result.reason
    assert not run.checkpoint("last").exists()
    steps = [s for s, _ in run.reader().series("train/loss")]
    assert steps == [1, 2, 3, 4, 5]  # every finite point before the NaN is there


def test_inf_gradients_end_diverged_without_a_poisoned_checkpoint(tmp_path, monkeypatch, capsys):
    exp = tmp_path / "hot.toml"
    from workbench.config import config_to_toml

    exp.write_text(config_to_toml(tiny_cfg(
        tmp_path, train__max_steps=40, train__log_interval=1, train__grad_clip=0.0,
        eval__interval=0, sample__interval=-1, checkpoint__interval=1)))
    poisoned_build(monkeypatch, 8, "grad")
    runs = tmp_path / "runs"
    assert main(["run", str(exp), "--runs-dir", str(runs)]) == 3
    run = RunStore(runs).runs()[0]
    info = run.info()
    assert info.status == "diverged" and "the last good checkpoint is kept" in info.reason
    ckpt = load(run.checkpoint("last"))
    assert ckpt["step"] == 7 and all(torch.isfinite(v).all() for v in ckpt["model"].values())
    losses = run.reader().series("train/loss")
    assert [s for s, _ in losses][:7] == [1, 2, 3, 4, 5, 6, 7] and all(math.isfinite(v) for _, v in losses)
