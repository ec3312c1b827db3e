"""How a training run ends: its Result and exit code, and the signals that stop it.

    finished   0   max_steps / max_tokens / max_time reached
    failed     1   an exception, CUDA OOM, torch.compile failure, disk full
    (bad input 2   WorkbenchError: a file, a key, a value)
    diverged   3   NaN/Inf loss or weights
    pruned     4   a sweep's pruner ended this trial at an evaluation (workbench/sweep.py)
    stopped    128 + signal (130 SIGINT, 143 SIGTERM, 129 SIGHUP)
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from workbench.errors import WorkbenchError

EXIT_CODES = {"finished": 0, "failed": 1, "diverged": 3, "pruned": 4}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Diverged(Exception):
    """NaN/Inf in the loss or the weights: the run ends 'diverged'."""


class Pruned(Exception):
    """A sweep's pruner rejected this trial at an evaluation: the run ends 'pruned'."""


@dataclass
class Result:
    status: str
    reason: str = ""
    step: int = 0
    tokens: int = 0
    best_val: float | None = None
    tok_per_s: float | None = None
    wall_s: float = 0.0
    signum: int | None = None
    bad_input: bool = False  # a WorkbenchError: exit code 2

    @property
    def exit_code(self) -> int:
        if self.bad_input:
            return WorkbenchError.exit_code
        if self.status == "stopped":
            return 128 + (self.signum or signal.SIGTERM)
        return EXIT_CODES.get(self.status, 1)


def from_exception(e: Exception, step: int) -> tuple[str, Result, bool]:
    """How an exception ends a run: (the event kind to record, the Result, whether it was
    unexpected, so its traceback belongs in train.log)."""
    from workbench.checkpoint import DiskFull
    from workbench.device import is_oom

    if isinstance(e, WorkbenchError):
        return "error", Result("failed", str(e), bad_input=True), False
    if isinstance(e, Diverged):
        return "diverged", Result("diverged", str(e)), False
    if isinstance(e, Pruned):
        return "pruned", Result("pruned", str(e)), False
    if isinstance(e, DiskFull):
        return "error", Result("failed", str(e)), False
    if is_oom(e):
        return "oom", Result("failed", f"CUDA out of memory at step {step}: lower train.batch_size or "
                             "model.block_size (raise train.grad_accum to keep the effective batch), or use "
                             "a smaller model"), False
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return "error", Result("failed", f"{type(e).__name__}: {first}"[:500]), True


class StopFlag:
    """SIGINT, SIGTERM and SIGHUP (the terminal closed) set a flag; the loop finishes its step,
    saves and ends as stopped."""

    def __init__(self):
        self.signum: int | None = None
        self._old: dict = {}
        self._depth = 0  # entered again (the command, then train()): the outermost one restores

    def __enter__(self) -> StopFlag:
        self._depth += 1
        if self._depth == 1:
            for sig in STOP_SIGNALS:
                try:
                    self._old[sig] = signal.signal(sig, self._handle)
                except ValueError:  # not the main thread (tests): no handlers
                    pass
        return self

    def _handle(self, signum, frame) -> None:
        self.signum = signum

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0:
            for sig, old in self._old.items():
                signal.signal(sig, old)
            self._old = {}
