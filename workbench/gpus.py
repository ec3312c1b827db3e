"""The host's NVIDIA GPUs right now, through NVML (nvidia-ml-py). No torch import.

Used by the TUI's host panel, `workbench gpu` and the trainer's telemetry sampler,
so nothing here raises: no NVML library, no driver or no GPU gives `[]`, and a
field NVML cannot report (an NVMLError, "not supported" on a given board) is None
while the other fields are still read. NVML is initialized once per process, on
first use; a failed init is remembered (see `nvml_error()`) and not retried.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any

# Clock event ("throttle") reason bits, as in nvml.h; short names for the UI.
THROTTLE_BITS: list[tuple[int, str]] = [
    (0x1, "idle"),
    (0x2, "app_clocks"),
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal"),
    (0x40, "hw_thermal"),
    (0x80, "hw_power_brake"),
    (0x100, "display_clocks"),
]


def throttle_names(mask: int | None) -> list[str]:
    """Short names of the reasons set in an NVML clocks event/throttle reasons bitmask."""
    if not mask:
        return []
    names = [name for bit, name in THROTTLE_BITS if mask & bit]
    known = 0
    for bit, _ in THROTTLE_BITS:
        known |= bit
    if mask & ~known:
        names.append(f"other(0x{mask & ~known:x})")
    return names


@dataclass
class GpuStatus:
    index: int
    name: str | None = None
    uuid: str | None = None
    util_pct: float | None = None
    mem_used_bytes: int | None = None
    mem_total_bytes: int | None = None
    temp_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    sm_clock_mhz: float | None = None
    throttle_reasons: list[str] | None = None
    processes: list[tuple[int, int | None]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["processes"] = [{"pid": pid, "used_bytes": used} for pid, used in self.processes]
        return d


_lock = threading.Lock()
_nvml: Any = None
_nvml_error: str | None = None
_tried = False


def nvml() -> Any:
    """The initialized pynvml module, or None (reason in `nvml_error()`). Thread-safe."""
    global _nvml, _nvml_error, _tried
    if _tried:
        return _nvml
    with _lock:
        if _tried:
            return _nvml
        try:
            import pynvml

            pynvml.nvmlInit()
            _nvml = pynvml
        except Exception as e:  # ImportError, NVMLError_LibraryNotFound, driver errors
            _nvml = None
            _nvml_error = str(e) or type(e).__name__
        _tried = True
        return _nvml


def nvml_error() -> str | None:
    """Why NVML is unavailable (after `nvml()` returned None); None when it works."""
    nvml()
    return _nvml_error


def _reset_for_tests() -> None:
    global _nvml, _nvml_error, _tried
    with _lock:
        _nvml, _nvml_error, _tried = None, None, False


def _try(fn: Any, *args: Any) -> Any:
    """Call one NVML function; None on any error, so one field never loses the others."""
    try:
        return fn(*args)
    except Exception:
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def device_count(nv: Any = None) -> int:
    nv = nv or nvml()
    if nv is None:
        return 0
    return _try(nv.nvmlDeviceGetCount) or 0


def handle(index: int, nv: Any = None) -> Any:
    """The NVML handle of device `index` (NVML order = PCI bus order), or None."""
    nv = nv or nvml()
    if nv is None:
        return None
    return _try(nv.nvmlDeviceGetHandleByIndex, index)


def throttle_mask(nv: Any, h: Any) -> int | None:
    """Current clock event reasons; the newer name first (the old one is deprecated)."""
    for fname in ("nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"):
        fn = getattr(nv, fname, None)
        if fn is not None:
            value = _try(fn, h)
            if value is not None:
                return int(value)
    return None


def read_dynamic(nv: Any, h: Any) -> dict[str, Any]:
    """The fast-changing fields of one device, each None when NVML cannot read it."""
    util = _try(nv.nvmlDeviceGetUtilizationRates, h)
    mem = _try(nv.nvmlDeviceGetMemoryInfo, h)
    power_mw = _try(nv.nvmlDeviceGetPowerUsage, h)
    temp = _try(nv.nvmlDeviceGetTemperature, h, getattr(nv, "NVML_TEMPERATURE_GPU", 0))
    clock = _try(nv.nvmlDeviceGetClockInfo, h, getattr(nv, "NVML_CLOCK_SM", 1))
    return {
        "util_pct": float(util.gpu) if util is not None and getattr(util, "gpu", None) is not None else None,
        "mem_used_bytes": int(mem.used) if mem is not None and getattr(mem, "used", None) is not None else None,
        "mem_total_bytes": int(mem.total) if mem is not None and getattr(mem, "total", None) is not None else None,
        "power_w": power_mw / 1000.0 if power_mw is not None else None,
        "temp_c": float(temp) if temp is not None else None,
        "sm_clock_mhz": float(clock) if clock is not None else None,
        "throttle_mask": throttle_mask(nv, h),
    }


def _processes(nv: Any, h: Any) -> list[tuple[int, int | None]]:
    procs = _try(nv.nvmlDeviceGetComputeRunningProcesses, h) or []
    out: list[tuple[int, int | None]] = []
    for p in procs:
        pid = getattr(p, "pid", None)
        if pid is None:
            continue
        used = getattr(p, "usedGpuMemory", None)
        # NVML reports "not available" (e.g. without permission) as None or a huge sentinel.
        out.append((int(pid), int(used) if isinstance(used, int) and 0 <= used < 1 << 60 else None))
    return out


def read_gpu(index: int, nv: Any = None) -> GpuStatus | None:
    """One device's status, or None when it has no handle."""
    nv = nv or nvml()
    if nv is None:
        return None
    h = handle(index, nv)
    if h is None:
        return None
    dyn = read_dynamic(nv, h)
    limit_mw = _try(nv.nvmlDeviceGetEnforcedPowerLimit, h) if hasattr(nv, "nvmlDeviceGetEnforcedPowerLimit") else None
    if limit_mw is None and hasattr(nv, "nvmlDeviceGetPowerManagementLimit"):
        limit_mw = _try(nv.nvmlDeviceGetPowerManagementLimit, h)
    mask = dyn.pop("throttle_mask")
    return GpuStatus(
        index=index,
        name=_text(_try(nv.nvmlDeviceGetName, h)),
        uuid=_text(_try(nv.nvmlDeviceGetUUID, h)),
        power_limit_w=limit_mw / 1000.0 if limit_mw is not None else None,
        throttle_reasons=throttle_names(mask) if mask is not None else None,
        processes=_processes(nv, h),
        **dyn,
    )


def list_gpus() -> list[GpuStatus]:
    """Every GPU NVML sees, now; [] without NVML or GPUs. Never raises."""
    try:
        nv = nvml()
        if nv is None:
            return []
        out = []
        for i in range(device_count(nv)):
            status = read_gpu(i, nv)
            if status is not None:
                out.append(status)
        return out
    except Exception:
        return []


def _lineage(pid: int) -> tuple[set[int], int | None]:
    """A process's ancestors (itself included) and its process group, as far as visible."""
    pids = {pid}
    pgid = None
    try:
        import os

        pgid = os.getpgid(pid)
    except Exception:
        pass
    try:
        import psutil

        pids.update(p.pid for p in psutil.Process(pid).parents())
    except Exception:
        pass
    return pids, pgid


def match_runs(gpu_list: list[GpuStatus], runs: list[Any]) -> dict[int, list[str]]:
    """Which runs use which GPU: {gpu index: [run id, ...]}. `runs` are run infos with
    .id, .pid and optionally .pgid (running ones only). A GPU process belongs to a run
    when it is the run's process, a descendant of it (torchrun ranks, workers) or in
    its process group. In a container NVML may report host pids, which match nothing."""
    by_pid = {r.pid: r.id for r in runs if getattr(r, "pid", None)}
    by_pgid = {r.pgid: r.id for r in runs if getattr(r, "pgid", None)}
    out: dict[int, list[str]] = {}
    for g in gpu_list:
        ids: list[str] = []
        for pid, _used in g.processes:
            lineage, pgid = _lineage(pid)
            found = next((by_pid[p] for p in lineage if p in by_pid), None)
            if found is None and pgid is not None:
                found = by_pgid.get(pgid)
            if found is not None and found not in ids:
                ids.append(found)
        out[g.index] = ids
    return out
