"""The trainer's telemetry sampler: a daemon thread that reads the run's GPU (NVML),
the process's CPU and RSS and the system's RAM (psutil), and torch's CUDA memory
counters every `interval` seconds and hands them to `emit` as one dict.

    sampler = TelemetrySampler(store_emit, cfg.system.telemetry_interval, cuda_index=0)
    sampler.start()
    try:
        train()
    finally:
        sampler.stop()

Keys (a key whose value is unknown is left out):
  gpu/util, gpu/mem_used, gpu/mem_total, gpu/power_w, gpu/temp_c, gpu/sm_clock_mhz,
  gpu/throttle (NVML clocks event reasons bitmask, as a float),
  cpu/percent (this process; can exceed 100 on several cores), cpu/rss_bytes,
  cpu/others_share (cores busy with other processes over the interval / all cores),
  ram/used_bytes, ram/total_bytes,
  torch/allocated, torch/reserved, torch/peak (only with a cuda_index).

`emit` runs on the sampler thread: it must be thread-safe (for instance, append to a
buffer the training loop flushes to the store at its logging points). An exception
in `emit` is logged once and the sampler keeps going; nothing here can stop the
trainer. Without NVML or a GPU only the CPU/RAM series come, silently. torch is
imported (lazily, on the sampler thread) only when cuda_index is not None, in which
case the trainer has imported it already.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from workbench import contention, gpus, keys

log = logging.getLogger("workbench.telemetry")


def nvml_index_for_cuda(cuda_index: int, visible: str | None = None) -> int:
    """The NVML index of CUDA device `cuda_index`, through CUDA_VISIBLE_DEVICES when it
    is a list of integers ("2,3" -> cuda:1 is NVML 3); otherwise the same index."""
    if visible is None:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        parts = [p.strip() for p in visible.split(",") if p.strip()]
        try:
            ints = [int(p) for p in parts]
        except ValueError:
            return cuda_index
        if 0 <= cuda_index < len(ints):
            return ints[cuda_index]
    return cuda_index


def _torch_uuid(cuda_index: int) -> str | None:
    """The CUDA device's UUID as torch reports it ('58e0…-…'), or None."""
    try:
        import torch

        uuid = getattr(torch.cuda.get_device_properties(cuda_index), "uuid", None)
        text = str(uuid).strip().lower() if uuid is not None else ""
        return text.removeprefix("gpu-") or None
    except Exception:
        return None


def resolve_handle(nv: Any, cuda_index: int) -> Any:
    """NVML handle of the CUDA device: by UUID when torch reports one (robust to
    CUDA_VISIBLE_DEVICES with UUIDs and to CUDA_DEVICE_ORDER), else by index."""
    uuid = _torch_uuid(cuda_index)
    if uuid:
        for i in range(gpus.device_count(nv)):
            h = gpus.handle(i, nv)
            nv_uuid = gpus._text(gpus._try(nv.nvmlDeviceGetUUID, h)) if h is not None else None
            if nv_uuid and nv_uuid.lower().removeprefix("gpu-") == uuid:
                return h
    return gpus.handle(nvml_index_for_cuda(cuda_index), nv)


_GPU_KEYS = [("util_pct", keys.GPU_UTIL), ("mem_used_bytes", keys.GPU_MEM_USED),
             ("mem_total_bytes", keys.GPU_MEM_TOTAL), ("power_w", keys.GPU_POWER_W),
             ("temp_c", keys.GPU_TEMP_C), ("sm_clock_mhz", keys.GPU_SM_CLOCK_MHZ),
             ("throttle_mask", keys.GPU_THROTTLE)]


def gpu_values(dyn: dict) -> dict[str, float]:
    """gpus.read_dynamic's readings under their telemetry keys; unknown ones left out."""
    return {key: float(dyn[src]) for src, key in _GPU_KEYS if dyn.get(src) is not None}


class TelemetrySampler:
    """A daemon thread calling emit({key: value}) every `interval` seconds (0 = off)."""

    def __init__(self, emit: Callable[[dict[str, float]], None], interval: float,
                 cuda_index: int | None = None):
        self.emit = emit
        self.interval = float(interval or 0)
        self.cuda_index = cuda_index
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._process: Any = None
        self._cpu_watch: contention.CpuWatch | None = None
        self._nv: Any = None
        self._handle: Any = None
        self._gpu_resolved = False
        self._emit_failed = False
        self.samples = 0  # emitted so far (for tests and the benchmark)

    # ------------------------------------------------------------- lifecycle

    def start(self) -> TelemetrySampler:
        if self.interval <= 0 or self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="workbench-telemetry", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Idempotent; safe from finally blocks and signal handlers (never raises)."""
        try:
            self._stop.set()
            t = self._thread
            if t is not None and t.is_alive() and t is not threading.current_thread():
                t.join(timeout)
        except Exception:
            pass

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> TelemetrySampler:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------- sampling

    def _prime(self) -> None:
        try:
            import psutil

            self._process = psutil.Process()
            self._process.cpu_percent(None)  # the first call only starts the measurement
            self._cpu_watch = contention.CpuWatch()
        except Exception:
            self._process = None

    def _resolve_gpu(self) -> None:
        self._gpu_resolved = True
        if self.cuda_index is None:
            return
        self._nv = gpus.nvml()
        if self._nv is not None:
            self._handle = resolve_handle(self._nv, self.cuda_index)

    def sample(self) -> dict[str, float]:
        """One sample now; keys with unknown values are left out. Never raises."""
        out: dict[str, float] = {}
        if not self._gpu_resolved:
            try:
                self._resolve_gpu()
            except Exception:
                self._handle = None
        if self._handle is not None:
            try:
                out.update(gpu_values(gpus.read_dynamic(self._nv, self._handle)))
            except Exception:
                pass
        if self._process is None:
            self._prime()
        try:
            if self._process is not None:
                out[keys.CPU_PERCENT] = float(self._process.cpu_percent(None))
                out[keys.CPU_RSS] = float(self._process.memory_info().rss)
            if self._cpu_watch is not None:
                out[keys.CPU_OTHERS_SHARE] = self._cpu_watch.take() / self._cpu_watch.cores
        except Exception:
            pass
        try:
            import psutil

            vm = psutil.virtual_memory()
            out[keys.RAM_USED] = float(vm.used)
            out[keys.RAM_TOTAL] = float(vm.total)
        except Exception:
            pass
        if self.cuda_index is not None:
            out.update(_torch_memory(self.cuda_index))
        return out

    def _run(self) -> None:
        try:
            self._prime()
            while not self._stop.wait(self.interval):
                values = self.sample()
                if self._stop.is_set():
                    break
                if not values:
                    continue
                try:
                    self.emit(values)
                    self.samples += 1
                except Exception as e:
                    if not self._emit_failed:
                        self._emit_failed = True
                        log.warning("telemetry: emit failed (%s: %s); sampling continues, "
                                    "further errors are not logged", type(e).__name__, e)
        except BaseException:  # the thread must never take the trainer down
            pass


def _torch_memory(cuda_index: int) -> dict[str, float]:
    try:
        import torch

        if not torch.cuda.is_available() or not torch.cuda.is_initialized():
            return {}
        return {
            keys.TORCH_ALLOCATED: float(torch.cuda.memory_allocated(cuda_index)),
            keys.TORCH_RESERVED: float(torch.cuda.memory_reserved(cuda_index)),
            keys.TORCH_PEAK: float(torch.cuda.max_memory_allocated(cuda_index)),
        }
    except Exception:
        return {}


def host_snapshot() -> dict[str, float]:
    """System CPU % (since the previous call; 0.0 on the first) and RAM, for the TUI."""
    out: dict[str, float] = {}
    try:
        import psutil

        out[keys.CPU_PERCENT] = float(psutil.cpu_percent(None))
        out[keys.CPU_COUNT] = float(psutil.cpu_count() or 0)
        vm = psutil.virtual_memory()
        out[keys.RAM_USED] = float(vm.used)
        out[keys.RAM_TOTAL] = float(vm.total)
    except Exception:
        pass
    return out
