"""A checkpoint is untrusted input: one holding a pickled object that would run code is
refused, on `workbench sample` and on resume, and the code never runs."""

from __future__ import annotations

import os

import torch

from tests.conftest import cli
from tests.test_trainer import tiny_cfg
from workbench.store import RunStore


class Payload:
    """Unpickling this would create the marker file (as os.system('touch …') would)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def crafted_run(tmp_path):
    cfg = tiny_cfg(tmp_path)
    store = RunStore(tmp_path / "runs")
    run = store.create_run(store.new_run_id("imported"), cfg)
    run.mark_ended("stopped", "stopped by SIGTERM at step 10")
    marker = tmp_path / "pwned"
    torch.save({"model": Payload(str(marker)), "step": 10}, run.checkpoints_dir / "last.pt")
    return store, run, marker


def test_sample_refuses_a_crafted_checkpoint(tmp_path, capsys):
    store, run, marker = crafted_run(tmp_path)
    code, out, err = cli(capsys, "sample", run.id, "--runs-dir", str(store.root), "--tokens", "3")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "refused to load" in err and "last.pt" in err
    assert not marker.exists()


def test_resume_refuses_a_crafted_checkpoint_and_leaves_the_run_as_it_was(tmp_path, capsys):
    store, run, marker = crafted_run(tmp_path)
    config_before = run.config_path.read_bytes()
    code, _, err = cli(capsys, "run", "--resume", run.id, "--runs-dir", str(store.root),
                       "--set", "train.max_steps=50")
    assert code == 2 and "refused to load" in err
    assert not marker.exists()
    info = run.info()
    assert (info.status, info.reason) == ("stopped", "stopped by SIGTERM at step 10")
    assert run.config_path.read_bytes() == config_before
