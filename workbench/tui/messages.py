"""What the poller threads hand to the UI: plain dataclasses, wrapped in Textual messages.

The dataclasses carry no Textual types, so the poller (workbench/tui/poller.py) is testable
without an app. Messages are posted from worker threads (post_message is thread-safe).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class RunRow:
    """One line of the home screen's runs table."""

    id: str
    status: str
    experiment: str
    step: int
    max_steps: int | None
    best_val: float | None
    tok_s: float | None
    started: float | None
    duration: float | None
    reason: str = ""
    tags: list[str] = field(default_factory=list)  # effective tags (workbench/labels.py)
    note: str = ""
    kind: str = "trainer"  # RunInfo.kind, or "profile" (`workbench profile`), "fork" (`workbench fork`): poller.run_kind


@dataclass
class GpuRow:
    index: int
    name: str
    util_pct: float | None
    mem_used: float | None
    mem_total: float | None
    temp_c: float | None
    power_w: float | None


@dataclass
class HostSnapshot:
    gpus: list[GpuRow]
    gpu_note: str  # why there are no GPUs, or ""
    cpu_pct: float | None
    ram_used: float | None
    ram_total: float | None


@dataclass
class RunSnapshot:
    """What changed in one run since the last poll. None means 'unchanged, keep what you have'."""

    run_id: str
    info: Any  # workbench.run_info.RunInfo
    x: str
    step: int
    tokens: int
    series: dict[str, list[tuple[float, float]]] | None = None  # the charts' keys, raw (downsampled)
    smooth: dict[str, list[tuple[float, float]]] | None = None  # their EMA on the raw points, if smoothing
    before_fork: dict[str, list[tuple[float, float]]] | None = None  # a fork: its parent's points up to the fork
    available: list[str] | None = None  # every key the run has recorded (the metric picker)
    by_time: list[str] | None = None  # those recorded by time only (telemetry)
    perf: dict[str, list[tuple[float, float]]] | None = None  # perf/tok_per_s, perf/mfu (by step)
    perf_now: dict[str, float] = field(default_factory=dict)
    telemetry: dict[str, list[tuple[float, float]]] | None = None  # gpu/util, gpu/mem_used …
    telemetry_now: dict[str, float] = field(default_factory=dict)
    new_samples: list = field(default_factory=list)  # workbench.metrics.Sample
    new_events: list = field(default_factory=list)  # workbench.metrics.Event, phases left out
    phase: str | None = None  # keys.PHASES: what the trainer last said it does (None: it never said)
    log_tail: list[str] | None = None
    summary: dict[str, Any] = field(default_factory=dict)  # Run.summary: tok/s, times, ETA (keys.SUMMARY)
    loss_seen: bool = False  # any train/loss point at all
    config: tuple | None = None  # (own, parent, parent name), flattened; once, when readable
    labels: Any = None  # workbench.labels.RunLabels: the run's tags and note


class RunsPolled(Message):
    def __init__(self, rows: list[RunRow]) -> None:
        super().__init__()
        self.rows = rows


class HostPolled(Message):
    def __init__(self, host: HostSnapshot) -> None:
        super().__init__()
        self.host = host


class RunPolled(Message):
    def __init__(self, snap: RunSnapshot) -> None:
        super().__init__()
        self.snap = snap


class RunActionDone(Message):
    """A start/stop/resume/delete finished in a worker: say so, refresh."""

    def __init__(self, text: str, severity: str = "information", run_id: str | None = None) -> None:
        super().__init__()
        self.text = text
        self.severity = severity
        self.run_id = run_id


class ComparePolled(Message):
    """Everything the compare screen shows (see poller.compare_data)."""

    def __init__(self, data: dict) -> None:
        super().__init__()
        self.data = data


class AttentionLoaded(Message):
    """The inspect screen's child process answered: maps for `key` (checkpoint, its mtime,
    prompt), or an error to show."""

    def __init__(self, key: tuple, maps: Any, error: str) -> None:
        super().__init__()
        self.key = key
        self.maps = maps  # workbench.attention_maps.AttentionMaps or None
        self.error = error


@dataclass
class QueueRow:
    """One line of the home screen's queue pane."""

    entry_id: int
    position: int | None  # among the waiting; None for a running entry
    label: str  # experiment, and the trial number for a sweep's trial
    gpus: int  # asked for
    state: str
    run_id: str = ""
    held: list = field(default_factory=list)  # GPUs its run holds
    overrides: list = field(default_factory=list)


@dataclass
class QueueSnapshot:
    rows: list[QueueRow]
    paused: str | None  # the reason, when paused
    scheduler: int | None  # its pid


class QueuePolled(Message):
    def __init__(self, snap: QueueSnapshot) -> None:
        super().__init__()
        self.snap = snap


class SweepPolled(Message):
    """The sweep screen's data: a workbench.sweep.SweepInfo, its spec and TrialRows (or an error)."""

    def __init__(self, info: Any, rows: list, error: str = "") -> None:
        super().__init__()
        self.info = info
        self.rows = rows
        self.error = error
