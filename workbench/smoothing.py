"""Exponential moving averages: the plots' smoothing and the one rate every ETA comes from.

Both are bias-corrected (as Adam and TensorBoard do): the average of the first few
points is not pulled towards zero.
"""

from __future__ import annotations

import math


def ema(values: list[float], strength: float) -> list[float]:
    """Bias-corrected EMA of `values` with weight `strength` (0 = raw, 0.99 = very smooth).

    Non-finite values pass through unchanged and do not enter the average.
    """
    if strength <= 0:
        return list(values)
    out, avg, weight = [], 0.0, 0.0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        avg = strength * avg + (1 - strength) * v
        weight = strength * weight + (1 - strength)
        out.append(avg / weight)
    return out


class SmoothedRate:
    """Steps per second of wall clock, smoothed over logging windows.

    Fed the whole elapsed time (evaluation, samples and checkpoints included: the
    user waits for them too), so the ETA made from it does not run late.
    """

    def __init__(self, beta: float = 0.7):
        self.beta = beta
        self._avg = 0.0
        self._weight = 0.0

    def update(self, steps: int, seconds: float) -> None:
        if steps <= 0 or seconds <= 0:
            return
        self._avg = self.beta * self._avg + (1 - self.beta) * (seconds / steps)
        self._weight = self.beta * self._weight + (1 - self.beta)

    @property
    def steps_per_s(self) -> float | None:
        if not self._weight:
            return None
        sec_per_step = self._avg / self._weight
        return 1.0 / sec_per_step if sec_per_step > 0 else None


def eta_seconds(steps_per_s: float | None, step: int, tokens: int, tokens_per_step: int,
                max_steps: int = 0, max_tokens: int = 0, max_time: float = 0.0,
                train_time: float = 0.0) -> float | None:
    """Seconds until the first of the run's limits is reached, or None if it has none."""
    left = []
    if steps_per_s:
        if max_steps:
            left.append((max_steps - step) / steps_per_s)
        if max_tokens and tokens_per_step:
            left.append((max_tokens - tokens) / tokens_per_step / steps_per_s)
    if max_time:
        left.append(max_time - train_time)
    return max(0.0, min(left)) if left else None
