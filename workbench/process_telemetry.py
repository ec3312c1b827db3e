"""Telemetry of a process tree that is not the built-in trainer: a script using
workbench.init, or a command run with `workbench run -- CMD` (its children included:
data loader workers, torchrun ranks).

Keys, as the trainer's sampler writes them (telemetry.py), so the dashboard shows them:
  cpu/percent, cpu/rss_bytes     summed over the tree
  ram/used_bytes, ram/total_bytes
  gpu/util, gpu/mem_used, gpu/mem_total, gpu/power_w, gpu/temp_c, gpu/sm_clock_mhz
                                 of the first GPU whose NVML process list holds a process of the tree
  gpu/count                      how many GPUs hold one
  gpu/proc_mem                   the tree's memory on those GPUs (when NVML may tell)
"""

from __future__ import annotations

from typing import Any

from workbench import gpus, keys
from workbench.telemetry import TelemetrySampler, gpu_values


class ProcessTreeSampler(TelemetrySampler):
    def __init__(self, emit, interval: float, root_pid: int):
        super().__init__(emit, interval, cuda_index=None)
        self.root_pid = root_pid
        self._procs: dict[int, Any] = {}

    def _tree(self) -> list[Any]:
        """The root and its descendants, as psutil.Process objects kept between samples
        (cpu_percent measures since the previous call on the same object)."""
        import psutil

        try:
            root = self._procs.get(self.root_pid) or psutil.Process(self.root_pid)
            found = [root] + root.children(recursive=True)
        except psutil.Error:
            return []
        procs = {}
        for p in found:
            try:
                if p.status() == psutil.STATUS_ZOMBIE:  # exited, not yet collected: nothing to read
                    continue
            except psutil.Error:
                continue
            known = self._procs.get(p.pid)
            if known is None:
                try:
                    p.cpu_percent(None)  # the first call starts the measurement
                except psutil.Error:
                    continue
            procs[p.pid] = known or p
        self._procs = procs
        return list(procs.values())

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        try:
            import psutil

            cpu = rss = 0.0
            tree = self._tree()
            for p in tree:
                try:
                    cpu += p.cpu_percent(None)
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            if tree:
                out[keys.CPU_PERCENT], out[keys.CPU_RSS] = cpu, rss
            vm = psutil.virtual_memory()
            out[keys.RAM_USED], out[keys.RAM_TOTAL] = float(vm.used), float(vm.total)
        except Exception:
            pass
        try:
            out.update(self._gpus(set(self._procs)))
        except Exception:
            pass
        return out

    def _gpus(self, pids: set[int]) -> dict[str, float]:
        nv = gpus.nvml()
        if nv is None or not pids:
            return {}
        out: dict[str, float] = {}
        count, proc_mem = 0, 0
        for i in range(gpus.device_count(nv)):
            h = gpus.handle(i, nv)
            if h is None:
                continue
            mine = [used for pid, used in gpus._processes(nv, h) if pid in pids]
            if not mine:
                continue
            count += 1
            proc_mem += sum(u for u in mine if u)
            if count == 1:
                out.update(gpu_values(gpus.read_dynamic(nv, h)))
        if count:
            out[keys.GPU_COUNT] = float(count)
            if proc_mem:
                out[keys.GPU_PROC_MEM] = float(proc_mem)
        return out
