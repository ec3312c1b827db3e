"""Checkpoints: written to a temp file in the same folder, fsynced, renamed.

A checkpoint holds everything exact resume needs: model, optimizer, grad scaler,
step, tokens seen, training time, best val loss, every RNG state (torch, CUDA,
numpy, python; batches need none: they are a function of seed and step), plus the
resolved config and the tokenizer, so `workbench sample` needs nothing else.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from workbench.errors import WorkbenchError


def save(path: Path, state: dict) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def load(path: Path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise WorkbenchError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:
        raise WorkbenchError(f"{path}: cannot read the checkpoint ({type(e).__name__}: {e})") from None


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_model(path: Path, device: str | torch.device = "cpu"):
    """(model, tokenizer, config) from a checkpoint, for sampling; no training code involved."""
    from workbench.config import from_dict
    from workbench.data import tokenizer_from_state
    from workbench.model import build_model

    ckpt = load(path, map_location=device)
    cfg = from_dict(ckpt["config"], where=str(path))
    tok = tokenizer_from_state(ckpt["tokenizer"])
    model = build_model(cfg.model, tok.vocab_size)
    model.load_state_dict(ckpt["model"])
    model.to(device).eval()
    return model, tok, cfg
