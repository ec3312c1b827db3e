"""Reading scalars from printed lines: hand-written logs in nanoGPT's, the HF Trainer's and
Lightning's formats (tests/fixtures/logs), user regexes, and `workbench run --test-capture`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import workbench_cmd, workbench_env
from workbench.capture import Capture
from workbench.errors import WorkbenchError

LOGS = Path(__file__).parent / "fixtures" / "logs"


def read(name: str, regexes: list[str] = ()) -> tuple[Capture, list[tuple[int, dict]]]:
    cap = Capture.with_regexes(list(regexes))
    points = cap.feed((LOGS / name).read_text())
    return cap, [(p.step, p.values) for p in points]


def test_nanogpt():
    _, points = read("nanogpt.log")
    assert points == [
        (0, {"train/loss": 4.2874, "eval/val_loss": 4.2823}),
        (0, {"train/loss": 4.2654, "perf/step_ms": 29765.09, "perf/mfu": -1.0}),
        (10, {"train/loss": 3.2454, "perf/step_ms": 35.42, "perf/mfu": pytest.approx(0.1052)}),
        (20, {"train/loss": 2.7917, "perf/step_ms": 35.76, "perf/mfu": pytest.approx(0.1051)}),
        (250, {"train/loss": 1.9674, "eval/val_loss": 2.0672}),
        (250, {"train/loss": 2.0315, "perf/step_ms": 4012.35, "perf/mfu": pytest.approx(0.1039)}),
    ]


def test_hf_trainer():
    cap, points = read("hf_trainer.log")
    assert points == [
        (10, {"train/loss": 2.1, "train/grad_norm": 1.25, "train/lr": 0.0003, "epoch": 0.5}),
        (10, {"eval/val_loss": 2.05, "eval_runtime": 0.21, "eval_samples_per_second": 95.2, "epoch": 0.5}),
        (20, {"train/loss": 1.8, "train/grad_norm": 0.9, "train/lr": 0.00015, "epoch": 1.0}),
        (20, {"train_runtime": 6.2, "train_samples_per_second": 480.1, "train/loss": 1.95, "epoch": 1.5}),
    ]
    assert cap.max_steps == 30  # the training bar's total; the evaluation bar (4) does not count


def test_lightning():
    _, points = read("lightning.log")
    assert points == [
        (50, {"train/loss": 2.1}),
        (100, {"train/loss": 1.9}),
        (100, {"train/loss": 1.9, "eval/val_loss": 1.95}),
        (120, {"train/loss": 1.8, "eval/val_loss": 1.95}),
    ]


def test_user_regex_and_other_lines():
    cap = Capture.with_regexes([r"it=(?P<step>\d+) L=(?P<loss>[\d.]+) acc=(?P<acc>[\d.]+)"])
    assert [(p.step, p.values) for p in cap.feed("it=7 L=1.5 acc=0.25\n")] == [(7, {"train/loss": 1.5, "acc": 0.25})]
    # the default readers still read lines the regex does not match
    assert [(p.step, p.values) for p in cap.feed("step 8 | lr 1e-3 | grad_norm=0.5\n")] == \
        [(8, {"train/lr": 1e-3, "train/grad_norm": 0.5})]
    assert [(p.step, p.values) for p in cap.feed("epoch 2 step 300 loss 1.2\n")] == \
        [(300, {"epoch": 2.0, "train/loss": 1.2})]
    assert cap.feed("step 9 loss nan\n")[0].values["train/loss"] != cap.feed("step 9 loss nan\n")[0].values["train/loss"]
    assert cap.feed("no step here: loss 2.0\nprint({'a': 1} if x else y)\n") == []
    odd = Capture.with_regexes([r"at (?P<step>\S+) L=(?P<loss>\S+)"])
    assert [(p.step, p.values) for p in odd.feed("at start L=2.5\n")] == [(0, {"train/loss": 2.5})]


def test_bad_regex_is_bad_input():
    with pytest.raises(WorkbenchError, match="no named groups"):
        Capture.with_regexes([r"loss (\d+)"])
    with pytest.raises(WorkbenchError, match="not a valid regular expression"):
        Capture.with_regexes([r"(?P<loss>"])


def test_test_capture_command_reads_a_saved_log():
    log = (LOGS / "nanogpt.log").read_text()
    p = subprocess.run(workbench_cmd("run", "--test-capture", "--", "python", "train.py"), input=log,
                       capture_output=True, text=True, env=workbench_env(), timeout=60)
    assert p.returncode == 0, p.stderr
    assert "250  train/loss=1.9674  eval/val_loss=2.0672" in p.stdout and "eval/val_loss=2.0672" in p.stdout and "perf/mfu=0.1039" in p.stdout
    assert "6 points" in p.stdout
