"""The store's metric keys that viewers look for, and the well-known names that mean them.

A script that logs `loss` or `val_loss` (or prints `train loss 2.0`) gets the
dashboard's loss chart and the run summary because its names are stored under
the workbench keys below. Any other name is stored as given.
"""

from __future__ import annotations

TRAIN_LOSS = "train/loss"
VAL_LOSS = "eval/val_loss"
LR = "train/lr"
GRAD_NORM = "train/grad_norm"
TOK_PER_S = "perf/tok_per_s"
MFU = "perf/mfu"  # a fraction: 0.38, not 38
STEP_MS = "perf/step_ms"

# Lower case, spaces and dashes as underscores (see `normalize`).
ALIASES = {
    "loss": TRAIN_LOSS, "train_loss": TRAIN_LOSS, "training_loss": TRAIN_LOSS, "train/loss": TRAIN_LOSS,
    "val_loss": VAL_LOSS, "eval_loss": VAL_LOSS, "valid_loss": VAL_LOSS, "validation_loss": VAL_LOSS,
    "val/loss": VAL_LOSS, "eval/loss": VAL_LOSS, "valid/loss": VAL_LOSS, "eval/val_loss": VAL_LOSS,
    "lr": LR, "learning_rate": LR, "train/lr": LR,
    "grad_norm": GRAD_NORM, "gradient_norm": GRAD_NORM, "train/grad_norm": GRAD_NORM,
    "tok/s": TOK_PER_S, "tok_per_s": TOK_PER_S, "tokens_per_sec": TOK_PER_S,
    "tokens_per_second": TOK_PER_S, "perf/tok_per_s": TOK_PER_S,
    "mfu": MFU, "perf/mfu": MFU,
}


def normalize(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def store_key(name: str) -> str:
    """The key a logged or printed name is stored under."""
    return ALIASES.get(name) or ALIASES.get(normalize(name)) or name
