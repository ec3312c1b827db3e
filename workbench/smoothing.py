"""Exponential moving averages: the plots' smoothing and the one rate every ETA comes from.

Both are bias-corrected (as Adam and TensorBoard do): the average of the first few
points is not pulled towards zero.
"""

from __future__ import annotations

import math

MAX_STRENGTH = 0.99
LADDER = (0.0, 0.3, 0.6, 0.8, 0.9, 0.95, MAX_STRENGTH)  # the strengths the TUI's +/- keys step through


def step_strength(current: float, direction: int) -> float:
    """The next strength up (+1) or down (-1) the LADDER."""
    i = min(range(len(LADDER)), key=lambda k: abs(LADDER[k] - current))
    return LADDER[max(0, min(len(LADDER) - 1, i + direction))]


class EmaState:
    """A running bias-corrected EMA: add() one raw value, get the smoothed one."""

    def __init__(self, strength: float):
        self.strength = min(MAX_STRENGTH, max(0.0, strength))
        self.avg = 0.0
        self.weight = 0.0

    def add(self, v: float) -> float:
        """Non-finite values pass through unchanged and do not enter the average."""
        if self.strength <= 0 or not math.isfinite(v):
            return v
        self.avg = self.strength * self.avg + (1 - self.strength) * v
        self.weight = self.strength * self.weight + (1 - self.strength)
        return self.avg / self.weight


def ema(values: list[float], strength: float) -> list[float]:
    """Bias-corrected EMA of `values` with weight `strength` (0 = raw, 0.99 = very smooth)."""
    state = EmaState(strength)
    return [state.add(v) for v in values]


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
