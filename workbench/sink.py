"""Where the training loop's numbers go: one small interface, two implementations.

The recording API's run handle, `workbench.recording.Recorder`, records the run (the
process that records it; the same class records scripts and commands); `NullSink`
drops everything (every other process, e.g. DDP ranks != 0). The loop calls only
these methods, so it never knows which one it has.
"""

from __future__ import annotations


class NullSink:
    """Records nothing."""

    def log(self, values: dict[str, float], step: int, tokens: int = 0) -> None:
        """Scalars of one step (train/loss, eval/val_loss, perf/tok_per_s, …)."""

    def event(self, kind: str, message: str, step: int | None = None) -> None:
        """Something that happened: start, resume, checkpoint, spike, stop, error, …"""

    def sample(self, prompt: str, text: str, step: int, tokens: int = 0) -> None:
        """A generated text."""

    def telemetry(self, values: dict[str, float]) -> None:
        """System readings (GPU util, memory, CPU, RAM) at the current time."""

    def truncate_after(self, step: int) -> None:
        """On resume: forget what was recorded after the checkpoint's step."""

    def flush(self) -> None:
        """Make everything recorded so far durable (called before each checkpoint)."""

    def close(self) -> None:
        """Flush and release; raises when what was queued could not be written."""

    def finish(self, status: str, reason: str = "") -> None:
        """Write the run's end into run.json (after close)."""
