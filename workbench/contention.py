"""Is something else using the device a run trains on? Speed figures mean little on a busy
machine (a tiny bench measured 636 ms/step beside another run, 8 ms alone), so `bench` and
the dashboard say so out loud.

CPU: the machine's busy CPU time minus this process tree's, over a window, in cores.
GPU: processes that are not ours holding memory on the GPU (NVML), and the GPU's
utilization before our work starts. No torch import.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import psutil

from workbench import gpus

# Other processes using at least this share of the machine's cores make speed figures suspect.
HEAVY_CPU_SHARE = 0.25
# A GPU busier than this before our work starts, or other processes holding this much on it.
HEAVY_GPU_UTIL = 20.0
HEAVY_GPU_BYTES = 1 << 30


def _busy_seconds() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def own_root() -> psutil.Process:
    """The root of "our" process tree: this process, or under torchrun the elastic agent that
    started every local rank, so sibling ranks do not count as another user's work."""
    me = psutil.Process()
    if int(os.environ.get("LOCAL_WORLD_SIZE", "1")) > 1:
        parent = me.parent()
        if parent is not None:
            return parent
    return me


def own_pids() -> set[int]:
    root = own_root()
    return {root.pid, *(c.pid for c in root.children(recursive=True))}


def _own_seconds(proc: psutil.Process) -> float:
    """CPU time of this process and its children (torch.compile workers, dataloaders)."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


class CpuWatch:
    """Cores used by other processes, averaged since the previous `take()` (or creation)."""

    def __init__(self) -> None:
        self.proc = own_root()
        self.cores = psutil.cpu_count() or 1
        self._mark()

    def _mark(self) -> None:
        self._t, self._busy, self._own = time.monotonic(), _busy_seconds(), _own_seconds(self.proc)

    def take(self) -> float:
        t, busy, own = time.monotonic(), _busy_seconds(), _own_seconds(self.proc)
        elapsed = t - self._t
        others = ((busy - self._busy) - (own - self._own)) / elapsed if elapsed > 0 else 0.0
        self._t, self._busy, self._own = t, busy, own
        return min(float(self.cores), max(0.0, others))


def heavy_share(share: float | None) -> bool:
    return share is not None and share >= HEAVY_CPU_SHARE


@dataclass
class Contention:
    """What was found; `warnings` is empty when the device looked free."""

    warnings: list[str] = field(default_factory=list)
    cpu_others_cores: float = 0.0
    cpu_cores: int = 0

    def to_dict(self) -> dict:
        return {"warnings": self.warnings, "cpu_others_cores": round(self.cpu_others_cores, 2),
                "cpu_cores": self.cpu_cores}


def top_cpu_processes(window: float = 0.5, n: int = 3) -> list[tuple[int, str, float]]:
    """(pid, name, cores) of the busiest processes that are not this one or its children."""
    own = own_pids()
    procs = [p for p in psutil.process_iter(["name", "cmdline"]) if p.pid not in own]
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(window)
    found = []
    for p in procs:
        try:
            found.append((p.pid, _label(p.info), p.cpu_percent(None) / 100))
        except psutil.Error:
            pass
    return sorted((f for f in found if f[2] >= 0.1), key=lambda f: -f[2])[:n]


def _label(info: dict) -> str:
    """`python -m pytest` rather than `python`: several pythons are the usual suspects."""
    words = [os.path.basename(w) if i == 0 else w for i, w in enumerate(info.get("cmdline") or [])]
    text = " ".join(words[:3]) or info.get("name") or "?"
    return text if len(text) <= 40 else text[:39] + "…"


def cpu_message(others_cores: float, cores: int, top: list[tuple[int, str, float]]) -> str:
    who = ", ".join(f"{name} (pid {pid}, {c:.1f} cores)" for pid, name, c in top)
    return (f"other processes used {others_cores:.1f} of {cores} CPU cores meanwhile"
            + (f": {who}" if who else "") + "; figures are slower than this machine alone would give "
            "(set system.threads to share the cores between runs)")


def gpu_warnings(nvml_index: int) -> list[str]:
    """Before our work starts on that GPU: is it busy, or do others hold memory on it?"""
    status = gpus.read_gpu(nvml_index)
    if status is None:
        return []
    own = own_pids()
    others = [(pid, used) for pid, used in status.processes if pid not in own]
    held = sum(used or 0 for _, used in others)
    out = []
    if status.util_pct is not None and status.util_pct >= HEAVY_GPU_UTIL:
        out.append(f"GPU {nvml_index} was {status.util_pct:.0f}% busy before this started")
    if others and held >= HEAVY_GPU_BYTES:
        pids = ", ".join(str(pid) for pid, _ in others[:5])
        out.append(f"GPU {nvml_index}: {len(others)} other process(es) hold {held / 2**30:.1f} GiB (pid {pids})")
    return out


def check(cpu_others_cores: float, gpu_before: list[str] | None = None) -> Contention:
    """Put the measured figures together; names the busiest other processes when heavy."""
    cores = psutil.cpu_count() or 1
    found = Contention(cpu_others_cores=cpu_others_cores, cpu_cores=cores)
    if heavy_share(cpu_others_cores / cores):
        found.warnings.append(cpu_message(cpu_others_cores, cores, top_cpu_processes()))
    found.warnings += gpu_before or []
    return found
