"""The logging window of the training loop, and the run's mean speed.

The hot loop adds each step's loss and grad norm as device tensors; a log point
reads them all with one sync. Time spent on evaluation, samples and checkpoints
is moved out of the window, so tok/s counts training alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch


@dataclass
class Window:
    """The steps since the last log point. Their losses and grad norms stay device tensors
    until read() syncs once; `steps` counts the timed ones (not a session's first)."""

    losses: list = field(default_factory=list)
    norms: list = field(default_factory=list)
    t0: float = field(default_factory=time.time)
    steps: int = 0

    def add(self, loss: torch.Tensor, norm: torch.Tensor | None, timed: bool) -> None:
        self.losses.append(loss)
        if norm is not None:
            self.norms.append(norm)
        self.steps += int(timed)

    def read(self, reduce=None) -> tuple[list[float], list[float | None]]:
        """The window's per-step losses (through `reduce`, e.g. the mean over ranks) and grad norms
        as floats, read with one `.tolist()` (the sync); empties the window."""
        n = len(self.losses)
        losses = torch.stack(self.losses).float()
        if reduce:
            losses = reduce(losses)
        both = torch.cat([losses, torch.stack(self.norms).float()]) if self.norms else losses
        values = both.tolist()
        self.losses.clear()
        self.norms.clear()
        return values[:n], (values[n:] if len(values) > n else [None] * n)

    def all_finite(self) -> bool:
        return bool(torch.isfinite(torch.stack(self.losses)).all())

    def restart(self, now: float | None = None) -> None:
        self.t0, self.steps = time.time() if now is None else now, 0


@dataclass
class Speed:
    """The run's mean tok/s (workbench.keys.SUMMARY["tokens_per_sec"]): the tokens and seconds of
    its timed logging windows, over all its sessions (checkpointed in TrainState)."""

    tokens: int = 0
    seconds: float = 0.0

    @property
    def mean(self) -> float | None:
        return self.tokens / self.seconds if self.seconds > 0 else None

    def add(self, tokens: int, seconds: float) -> None:
        self.tokens += tokens
        self.seconds += seconds

    def state_dict(self) -> dict:
        return {"tokens": self.tokens, "seconds": self.seconds}

    def load_state_dict(self, d: dict) -> None:
        self.tokens, self.seconds = int(d["tokens"]), float(d["seconds"])
