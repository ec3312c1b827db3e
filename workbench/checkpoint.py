"""Checkpoints: written to a temp file in the same folder, fsynced, renamed.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts (RNG
states as tensors), so it loads with `torch.load(weights_only=True)`: a file in a
run folder is untrusted input and is never unpickled as arbitrary objects. It
holds what exact resume needs (see train_state.TrainState) plus the resolved
config and the tokenizer, so `workbench sample` needs nothing else.
"""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import numpy as np
import torch

from workbench.errors import WorkbenchError

TMP_GLOB = ".*.pt.tmp*"  # what save() writes before the rename; a kill can leave one behind


class DiskFull(Exception):
    """The disk filled up while a checkpoint was written; the previous one is intact."""


def save_run(path: Path, state: dict, cfg, tokenizer, **extra) -> None:
    """A run's checkpoint: a training state (train_state.TrainState, or weights only) with what
    rebuilds it (the config, the tokenizer), as the trainer and every import write it."""
    save(path, {**state, "config": cfg.to_dict(), "tokenizer": tokenizer.state(), **extra})


def save(path: Path, state: dict) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(f"no space left on device while writing {path}; the previous "
                           f"checkpoint is kept") from e
        raise
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


def remove_partial(folder: Path) -> list[Path]:
    """Delete temp files a killed save() left behind (call only while holding the run's lock)."""
    removed = []
    for tmp in Path(folder).glob(TMP_GLOB):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def load(path: Path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise WorkbenchError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a bad file
        text = str(e)
        if "unsupported global" in text.lower():
            raise WorkbenchError(f"{path}: refused to load: the file holds Python objects, not plain "
                                 "tensors (a crafted file, or one from an older workbench); nothing in "
                                 "it was run") from None
        detail = ("the file is damaged or not a checkpoint" if "Weights only load failed" in text
                  else (text.strip().splitlines() or [""])[0][:200])
        raise WorkbenchError(f"{path}: cannot read the checkpoint ({type(e).__name__}: {detail})") from None


def rng_state() -> dict:
    """Every RNG the run draws from, as tensors and numbers (loadable with weights_only)."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "gauss": float(gauss)},
             "python": {"version": version, "state": torch.tensor(py_state, dtype=torch.int64),
                        "gauss": py_gauss}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"].tolist()), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_model(path: Path, device: str | torch.device = "cpu"):
    """(model, tokenizer, config) from a checkpoint, for sampling; no training code involved."""
    return model_from(load(path, map_location=device), str(path), device)


def model_from(ckpt: dict, where: str, device: str | torch.device = "cpu"):
    """(model, tokenizer, config) from a loaded checkpoint, full or weights only (init.pt, step-N.pt)."""
    from workbench.config import from_dict
    from workbench.data import tokenizer_from_state
    from workbench.model import build_model

    cfg = from_dict(ckpt["config"], where=where)
    tok = tokenizer_from_state(ckpt["tokenizer"])
    model = build_model(cfg.model, tok.vocab_size)
    model.load_state_dict(ckpt["model"])
    model.to(device).eval()
    return model, tok, cfg
