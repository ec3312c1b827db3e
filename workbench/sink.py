"""Where the training loop's numbers go: one small interface, two implementations.

`StoreSink` writes the run's metrics.sqlite (the process that records the run);
`NullSink` drops everything (every other process, e.g. DDP ranks != 0). The loop
calls only these methods, so it never knows which one it has.
"""

from __future__ import annotations

from workbench.metrics import MetricsWriter


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


class StoreSink(NullSink):
    """Records into a run's metrics database through its background writer."""

    def __init__(self, writer: MetricsWriter):
        self.writer = writer

    def log(self, values: dict[str, float], step: int, tokens: int = 0) -> None:
        self.writer.scalars(step, tokens, values)

    def event(self, kind: str, message: str, step: int | None = None) -> None:
        self.writer.event(kind, message, step=step)

    def sample(self, prompt: str, text: str, step: int, tokens: int = 0) -> None:
        self.writer.sample(step, tokens, prompt, text)

    def telemetry(self, values: dict[str, float]) -> None:
        self.writer.telemetry(values)

    def truncate_after(self, step: int) -> None:
        self.writer.truncate_after(step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
