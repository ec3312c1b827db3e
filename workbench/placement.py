"""Which GPUs a run gets: free ones, judged by the run store and NVML. No torch here.

A GPU is taken when a running workbench run holds it (run.json `gpus`, written by the
launcher) or one of its processes is on it (runs started by hand), and busy when,
with no workbench run on it, other processes (other users share the machine) use
more than BUSY_MEMORY_FRACTION of its memory or keep it over BUSY_UTIL_PCT busy.
The run gets `CUDA_VISIBLE_DEVICES` set to its GPUs (in NVML's PCI bus order, which
`CUDA_DEVICE_ORDER=PCI_BUS_ID` makes CUDA use too), so inside it they are cuda:0…
An explicit `system.device = "cuda:N"` is honoured as given: nothing is hidden.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from workbench.config import Config
from workbench.config_checks import processes
from workbench.errors import WorkbenchError
from workbench.gpus import GpuStatus, list_gpus, match_runs

BUSY_MEMORY_FRACTION = 0.05  # of the GPU's memory, used by processes that are not workbench runs
BUSY_UTIL_PCT = 10.0


@dataclass
class Placement:
    gpus: list[int] = field(default_factory=list)  # NVML indices the run holds
    env: dict[str, str] = field(default_factory=dict)  # for the run's process


def explicit_gpus(cfg: Config) -> list[int] | None:
    """The GPUs the config names itself ('cuda:N', or a list of indices), or None."""
    dev = cfg.system.device
    if isinstance(dev, list):
        return [int(i) for i in dev]
    return [int(dev[5:])] if dev.startswith("cuda:") else None


def gpus_wanted(cfg: Config) -> int:
    """How many GPUs the run asks for: 0 runs on the CPU (it takes a CPU slot in the queue)."""
    if cfg.system.device in ("cpu", "mps"):
        return 0
    explicit = explicit_gpus(cfg)
    if explicit is not None:
        return len(explicit)
    return 0 if cfg.system.gpus == 0 else processes(cfg.system)  # one per process (config checks they fit)


def _allowed(gpu_list: list[GpuStatus]) -> list[GpuStatus]:
    """Our own CUDA_VISIBLE_DEVICES (by index) limits the GPUs we may hand out."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return gpu_list
    parts = [p.strip() for p in visible.split(",") if p.strip()]
    if not all(p.isdigit() for p in parts):
        return gpu_list  # UUIDs or MIG names: we cannot map them to NVML indices here
    return [g for g in gpu_list if str(g.index) in parts]


def survey(gpu_list: list[GpuStatus], running: list) -> dict[int, str]:
    """{NVML index: why it is not free ('' when free)}. `running`: infos of running runs."""
    held: dict[int, str] = {}
    for info in running:
        for index in info.gpus or []:
            held.setdefault(index, info.id)
    on_gpu = match_runs(gpu_list, running)
    out: dict[int, str] = {}
    for g in gpu_list:
        ours = held.get(g.index) or next(iter(on_gpu.get(g.index) or []), None)
        total = g.mem_total_bytes or 0
        if ours:
            out[g.index] = f"held by {ours}"
        elif total and (g.mem_used_bytes or 0) > BUSY_MEMORY_FRACTION * total:
            out[g.index] = f"busy: other processes use {(g.mem_used_bytes or 0) / 2**30:.1f} GiB"
        elif (g.util_pct or 0) > BUSY_UTIL_PCT:
            out[g.index] = f"busy: {g.util_pct:.0f}% utilization by other processes"
        else:
            out[g.index] = ""
    return out


def choose(cfg: Config, running: list, gpu_list: list[GpuStatus]) -> Placement | None:
    """Where the run goes now, or None when not enough GPUs are free."""
    wanted = gpus_wanted(cfg)
    explicit = explicit_gpus(cfg)
    if explicit is not None:
        return Placement(explicit, {})
    if wanted == 0:
        # 'auto' would find a GPU: hide them all, so 0 means the CPU
        return Placement([], {"CUDA_VISIBLE_DEVICES": ""} if cfg.system.device == "auto" else {})
    allowed = _allowed(gpu_list)
    if not allowed:
        return Placement([], {})  # no NVML or no GPU here: the run finds its device itself
    reasons = survey(allowed, running)
    free = [g.index for g in allowed if not reasons[g.index]]
    if len(free) < wanted:
        return None
    picked = free[:wanted]
    return Placement(picked, {"CUDA_VISIBLE_DEVICES": ",".join(map(str, picked)),
                              "CUDA_DEVICE_ORDER": "PCI_BUS_ID"})


def place_now(cfg: Config, running: list) -> Placement:
    """For a run started directly (not queued): free GPUs now, or an error saying why not."""
    gpu_list = list_gpus()
    placement = choose(cfg, running, gpu_list)
    if placement is not None:
        return placement
    reasons = survey(_allowed(gpu_list), running)
    why = "; ".join(f"GPU {i} {r}" for i, r in reasons.items() if r)
    raise WorkbenchError(f"no {gpus_wanted(cfg)} free GPU(s) for {cfg.experiment.name} ({why}); "
                         "`workbench queue add` waits for them")
