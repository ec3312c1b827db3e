"""The training loop end to end on a CPU: learning, exact resume, precisions, the
watchdog, signals and the headless command."""

from __future__ import annotations

import math
import signal
import subprocess
import threading
from pathlib import Path

import pytest
import torch
from conftest import workbench_cmd, workbench_env

from workbench.checkpoint import load, load_model
from workbench.cli import main
from workbench.config import Config, config_to_toml
from workbench.store import RunStore
from workbench.trainer import train


def tiny_cfg(tmp_path: Path, **sections) -> Config:
    cfg = Config()
    cfg.experiment.name = "t"
    cfg.data.cache_dir = str(tmp_path / "cache")
    m = cfg.model
    m.n_layer, m.n_head, m.n_embd, m.block_size, m.dropout = 1, 2, 16, 16, 0.0
    t = cfg.train
    t.batch_size, t.max_steps, t.lr, t.min_lr, t.warmup_steps, t.log_interval = 8, 20, 3e-3, 3e-4, 2, 5
    cfg.system.device, cfg.system.precision, cfg.system.compile = "cpu", "fp32", False
    cfg.system.telemetry_interval = 0
    cfg.eval.interval, cfg.eval.batches = 10, 2
    cfg.sample.interval, cfg.sample.max_new_tokens = 10, 10
    cfg.checkpoint.interval = 0
    for dotted, value in sections.items():
        section, key = dotted.split("__")
        setattr(getattr(cfg, section), key, value)
    return cfg


def start(tmp_path: Path, cfg: Config):
    store = RunStore(tmp_path / "runs")
    run = store.create_run(store.new_run_id(cfg.experiment.name), cfg)
    return run


def scalars(run, key):
    r = run.reader()
    try:
        return r.series(key, max_points=100000)
    finally:
        r.close()


def test_tiny_run_learns(tmp_path):
    cfg = tiny_cfg(tmp_path, train__max_steps=60, train__lr=1e-2)
    run = start(tmp_path, cfg)
    result = train(cfg, run)
    assert result.status == "finished" and result.exit_code == 0, result.reason
    losses = [v for _, v in scalars(run, "train/loss")]
    assert losses[-1] < losses[0] - 0.5
    assert math.isclose(losses[0], math.log(65), abs_tol=0.15)
    assert run.info().status == "finished"
    assert run.checkpoint("last").exists() and run.checkpoint("best").exists()
    r = run.reader()
    try:
        assert r.last("eval/val_loss").step == 60
        assert r.last("perf/tok_per_s").value > 0
        assert r.last("perf/compile_s") is not None
        assert r.samples() and {e.kind for e in r.events()} >= {"start", "compile", "checkpoint"}
    finally:
        r.close()
    model, tok, saved = load_model(run.checkpoint("last"))
    assert tok.vocab_size == 65 and saved.train.max_steps == 60


def test_resume_is_exact(tmp_path):
    n = 10
    common = dict(train__decay_steps=2 * n, eval__interval=0, sample__interval=-1)
    straight_cfg = tiny_cfg(tmp_path, train__max_steps=2 * n, **common)
    straight = start(tmp_path, straight_cfg)
    assert train(straight_cfg, straight).status == "finished"

    first_cfg = tiny_cfg(tmp_path, train__max_steps=n, **common)
    split = start(tmp_path, first_cfg)
    assert train(first_cfg, split).status == "finished"
    assert load(split.checkpoint("last"))["step"] == n
    second_cfg = tiny_cfg(tmp_path, train__max_steps=2 * n, **common)
    result = train(second_cfg, split, resume=True)
    assert result.status == "finished" and result.step == 2 * n

    a, b = load(straight.checkpoint("last")), load(split.checkpoint("last"))
    assert a["tokens"] == b["tokens"]
    for k, v in a["model"].items():
        assert torch.allclose(v, b["model"][k], atol=1e-6), k
    la, lb = scalars(straight, "eval/val_loss")[-1][1], scalars(split, "eval/val_loss")[-1][1]
    assert la == pytest.approx(lb, abs=1e-5)
    steps = [s for s, _ in scalars(split, "train/loss")]
    assert steps == sorted(set(steps)) and steps[-1] == 2 * n  # no duplicated steps


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_autocast_precisions_on_cpu(tmp_path, precision):
    cfg = tiny_cfg(tmp_path, system__precision=precision, train__max_steps=10)
    run = start(tmp_path, cfg)
    result = train(cfg, run)
    assert result.status == "finished", result.reason
    assert all(math.isfinite(v) for _, v in scalars(run, "train/loss"))


def test_nan_loss_ends_diverged_and_keeps_last_good_checkpoint(tmp_path):
    cfg = tiny_cfg(tmp_path, train__max_steps=60, checkpoint__interval=5, eval__interval=0,
                   sample__interval=-1, train__log_interval=10)
    run = start(tmp_path, cfg)
    model_params = {}

    def poison(module, args, output):  # NaN from step 8 on, through a forward hook
        model_params["calls"] = model_params.get("calls", 0) + 1
        if model_params["calls"] >= 8:
            return output * float("nan")
        return output

    import workbench.step as trainer_mod  # build() looks build_model up there
    build = trainer_mod.build_model

    def build_poisoned(m, vocab):
        model = build(m, vocab)
        model.lm_head.register_forward_hook(poison)
        return model

    trainer_mod.build_model = build_poisoned
    try:
        result = train(cfg, run)
    finally:
        trainer_mod.build_model = build
    assert result.status == "diverged" and result.exit_code == 3
    assert "step 8" in result.reason
    assert run.info().status == "diverged"
    ckpt = load(run.checkpoint("last"))
    assert ckpt["step"] == 5
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())


def test_bad_dataset_path_is_bad_input(tmp_path):
    cfg = tiny_cfg(tmp_path, data__dataset=str(tmp_path / "nope.txt"))
    run = start(tmp_path, cfg)
    result = train(cfg, run)
    assert result.status == "failed" and result.exit_code == 2 and "nope.txt" in result.reason


def test_headless_run_and_sample(tmp_path, capsys):
    exp = tmp_path / "exp.toml"
    exp.write_text(config_to_toml(tiny_cfg(tmp_path, train__max_steps=10)))
    runs = str(tmp_path / "runs")
    assert main(["run", str(exp), "--runs-dir", runs, "--name", "hello", "--set", "train.max_steps=12"]) == 0
    out = capsys.readouterr().out
    assert "step 10/12" in out and "finished at step 12" in out and "best val loss" in out
    run = RunStore(runs).resolve("hello")
    assert "step 10/12" in run.log_path.read_text()
    assert main(["sample", "hello", "--runs-dir", runs, "--tokens", "5", "--prompt", "AB"]) == 0
    assert capsys.readouterr().out.startswith("AB")
    assert main(["run", str(tmp_path / "missing.toml"), "--runs-dir", runs]) == 2


def test_sigterm_stops_with_a_checkpoint(tmp_path):
    exp = tmp_path / "long.toml"
    exp.write_text(config_to_toml(tiny_cfg(tmp_path, train__max_steps=100000, train__log_interval=5)))
    runs = tmp_path / "runs"
    proc = subprocess.Popen(workbench_cmd("run", str(exp), "--runs-dir", str(runs)),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=workbench_env())
    lines: list[str] = []
    seen = threading.Event()

    def read():
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("step 10/"):
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen.wait(timeout=60), "".join(lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143, "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    reader.join(timeout=5)
    run = RunStore(runs).runs()[0]
    info = run.info()
    assert info.status == "stopped" and "SIGTERM" in info.reason
    ckpt = load(run.checkpoint("last"))
    assert ckpt["step"] >= 10
    model, _, _ = load_model(run.checkpoint("last"))
    assert model(torch.zeros(1, 4, dtype=torch.long))[0].shape == (1, 1, 65)
