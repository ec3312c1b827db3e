"""GPU telemetry of a data-parallel run: one series per GPU the run uses.

The recorder's own sampler writes its GPU as `gpu/…` and `torch/…`, as in a one-GPU run.
Every other rank samples its GPU too, on its own node, and keeps the latest reading; at each
log point (where the ranks synchronize anyway) the recorder gathers them and writes rank r's
GPU as `gpu<r>/…` and `torch<r>/…`. So GPUs on other machines are covered as well, with one
point per log interval, and no rank needs the run store.
"""

from __future__ import annotations

import threading

from workbench.distributed import Dist
from workbench.keys import rank_key

GPU_PREFIXES = ("gpu/", "torch/")


class Latest:
    """A sampler's `emit` on a rank that does not record: keep the newest GPU reading."""

    def __init__(self):
        self._lock = threading.Lock()
        self._values: dict[str, float] = {}

    def __call__(self, values: dict[str, float]) -> None:
        gpu = {k: v for k, v in values.items() if k.startswith(GPU_PREFIXES)}
        with self._lock:
            self._values = gpu

    def take(self) -> dict[str, float]:
        with self._lock:
            values, self._values = self._values, {}
        return values


def share(d: Dist, latest: Latest | None, sink) -> None:
    """Every rank calls this at a log point; the recorder writes the others' latest GPU readings."""
    readings = d.gather(latest.take() if latest is not None else {})
    if not d.is_recorder:
        return
    for rank, values in enumerate(readings):
        if rank != d.recorder and values:
            sink.telemetry({rank_key(k, rank): v for k, v in values.items()})
