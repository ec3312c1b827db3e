"""The disk fills up while a checkpoint is written: the previous checkpoint stays intact,
no partial file is left, and the run ends failed saying so."""

from __future__ import annotations

import errno

import torch

import workbench.checkpoint as checkpoint
from tests.test_trainer import start, tiny_cfg
from workbench.trainer import train


def test_disk_full_during_a_checkpoint(tmp_path, monkeypatch):
    cfg = tiny_cfg(tmp_path, train__max_steps=40, checkpoint__interval=5, eval__interval=0,
                   sample__interval=-1)
    run = start(tmp_path, cfg)
    real_save, calls = torch.save, []

    def save_until_full(obj, fh):
        calls.append(1)
        if len(calls) < 2:
            return real_save(obj, fh)
        fh.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", save_until_full)
    result = train(cfg, run)
    monkeypatch.undo()
    assert result.status == "failed" and result.exit_code == 1
    assert "no space left" in result.reason.lower()
    info = run.info()
    assert info.status == "failed" and "no space left" in info.reason.lower()
    ckpt = checkpoint.load(run.checkpoint("last"))
    assert ckpt["step"] == 5
    assert not list(run.checkpoints_dir.glob(checkpoint.TMP_GLOB))
