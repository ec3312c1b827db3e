"""The learning-rate schedule: linear warmup, then cosine decay to min_lr or constant."""

from __future__ import annotations

import math


def lr_at(step: int, t) -> float:
    """Learning rate for optimizer step `step` (0-based) under a [train] section."""
    if t.warmup_steps and step < t.warmup_steps:
        return t.lr * (step + 1) / (t.warmup_steps + 1)
    if t.schedule == "constant":
        return t.lr
    horizon = t.decay_steps or t.max_steps
    if step >= horizon:
        return t.min_lr
    span = max(1, horizon - t.warmup_steps)
    ratio = min(1.0, max(0.0, (step - t.warmup_steps) / span))
    coeff = 0.5 * (1.0 + math.cos(math.pi * ratio))
    return t.min_lr + coeff * (t.lr - t.min_lr)
