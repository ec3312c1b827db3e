"""`workbench bench`: the speed of a training step, measured, for one or more configs.

Each config is built exactly as the trainer builds it (`step.build`) and stepped by the
trainer's own step (`step.train_step`). The warmup steps come first; the first of them
holds torch.compile's compilation and is reported apart as compile time. Then the timed
steps: on CUDA each step is bracketed by CUDA events (no host sync per step; one
synchronize before the times are read), elsewhere by the host clock. The figure is the
median step time; tok/s is tokens per step over it; MFU where the device's peak is known.
Peak memory: torch.cuda.max_memory_allocated on CUDA, else the process's peak RSS (reset
per config through /proc/self/clear_refs on Linux; elsewhere it only grows across configs).
Contention: the cores other processes used during the timed steps, and the GPU's load and
other processes on it before the config started, so a figure from a busy machine says so.
"""

from __future__ import annotations

import gc
import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from workbench import contention
from workbench.mfu import mfu

DEFAULT_STEPS = 50
DEFAULT_WARMUP = 5


def machine() -> dict:
    import platform

    import torch

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"cpu": cpu, "gpu": gpu, "torch": torch.__version__, "cuda": torch.version.cuda,
            "commit": commit, "python": platform.python_version()}


def _reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _peak_rss_bytes() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb if sys.platform == "darwin" else kb * 1024


@dataclass
class Timing:
    """What one config's steps measured."""

    loss: object  # the latest step's loss, a device tensor
    compile_s: float  # the first step: compilation, allocator warmup
    warmup_s: float  # the other untimed steps
    times: list[float] = field(default_factory=list)  # each timed step's seconds


def bench_config(cfg, steps: int = DEFAULT_STEPS, warmup: int = DEFAULT_WARMUP, name: str = "",
                 dist=None) -> dict:
    """Measure `cfg`: `warmup` untimed steps (the first holds compilation), then `steps` timed ones.
    Under torchrun (`dist`), every rank steps in DDP and tok/s counts the whole group."""
    import torch

    from workbench.distributed import Dist
    from workbench.step import build, stepper

    dist = dist or Dist()
    gpu_before = _fresh_start(cfg, dist)
    p = build(cfg, dist=dist)
    if p.setup.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(p.setup.device)
    p.model.train()
    one = stepper(p, cfg.train)
    timing = _warm_up(one, p.setup, warmup)
    watch = contention.CpuWatch()
    _timed_steps(one, p.setup, steps, timing)
    busy = contention.check(watch.take(), gpu_before)
    return _result(cfg, p, dist, name, steps, warmup, timing, busy)


def _fresh_start(cfg, dist) -> list[str]:
    """Leave the previous config behind (its compiled graphs, its tensors, the peak RSS); the
    GPU's load and other processes on it before our work starts (contention's warnings)."""
    import torch

    if cfg.system.compile not in (False, "false"):
        torch._dynamo.reset()  # each config compiles its own model from scratch, within the cache limit
    gc.collect()  # the previous config's tensors go first, then the peak restarts from here
    _reset_peak_rss()
    gpu_index = _nvml_index(cfg.system.device, dist.local_rank if dist.active else None)
    return contention.gpu_warnings(gpu_index) if gpu_index is not None else []


def _warm_up(one, setup, warmup: int) -> Timing:
    """The untimed steps: the first (compilation) and the others timed apart."""
    t0 = time.perf_counter()
    loss = one()
    setup.sync()
    compile_s = time.perf_counter() - t0
    w0 = time.perf_counter()
    for _ in range(max(0, warmup - 1)):
        loss = one()
    setup.sync()
    return Timing(loss, compile_s, time.perf_counter() - w0)


def _timed_steps(one, setup, steps: int, timing: Timing) -> None:
    """Each step's seconds into `timing`: on CUDA bracketed by CUDA events, one synchronize
    at the end; elsewhere by the host clock after a sync per step."""
    import torch

    loss, times = timing.loss, timing.times
    if setup.device.type == "cuda":
        events = [torch.cuda.Event(enable_timing=True) for _ in range(steps + 1)]
        events[0].record()
        for i in range(steps):
            loss = one()
            events[i + 1].record()
        torch.cuda.synchronize(setup.device)
        times += [events[i].elapsed_time(events[i + 1]) / 1000 for i in range(steps)]
    else:
        last = time.perf_counter()
        for _ in range(steps):
            loss = one()
            setup.sync()
            now = time.perf_counter()
            times.append(now - last)
            last = now
    timing.loss = loss


def _result(cfg, p, dist, name: str, steps: int, warmup: int, timing: Timing, busy) -> dict:
    """One config's figures: the median step time, tok/s and MFU from it, peak memory, compile time."""
    import torch

    setup, times = p.setup, timing.times
    cuda = setup.device.type == "cuda"
    med = statistics.median(times) if times else float("nan")
    tok_s = p.tokens_per_step / med if times and med > 0 else None
    run_mfu = mfu(tok_s, p.flops_per_token, p.peak, devices=dist.world_size) if tok_s else None
    peak_mem = torch.cuda.max_memory_allocated(setup.device) if cuda else _peak_rss_bytes()
    return {
        "config": name or cfg.experiment.name, "precision": setup.precision, "ranks": dist.world_size,
        "ddp": dist.active, "device": setup.device_name + (f" ×{dist.world_size} (DDP)" if dist.active else ""),
        "compile": setup.compile, "compile_mode": cfg.system.compile_mode if setup.compile else None,
        "attention": cfg.model.attention, "fused_optimizer": setup.fused_optimizer,
        "params": p.counts["total"], "tokens_per_step": p.tokens_per_step,
        "steps": steps, "warmup": warmup, "ms_per_step": 1000 * med if times else None,
        "ms_per_step_mean": 1000 * statistics.fmean(times) if times else None,
        "tok_per_s": tok_s, "mfu": run_mfu, "peak_tflops": p.peak,
        "peak_memory_bytes": int(peak_mem), "peak_memory_kind": "cuda_max_allocated" if cuda else "process_peak_rss",
        "compile_s": timing.compile_s, "warmup_s": timing.warmup_s, "loss": float(timing.loss.float().item()),
        "contention": busy.to_dict(),
    }


def _nvml_index(device, local_rank: int | None = None) -> int | None:
    """The NVML index of the GPU `system.device` names (under torchrun: this rank's), or None
    when the run is not on a GPU."""
    import torch

    from workbench.device import gpu_index
    from workbench.telemetry import nvml_index_for_cuda

    if isinstance(device, list):
        return nvml_index_for_cuda(gpu_index(device, local_rank or 0)) if torch.cuda.is_available() else None
    if not (device == "auto" or device.startswith("cuda")) or not torch.cuda.is_available():
        return None
    index = torch.device(device).index if device.startswith("cuda") else local_rank
    return nvml_index_for_cuda(index or 0)


def _mem(n: int | None) -> str:
    if not n:
        return "n/a"
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def markdown_table(results: list[dict]) -> str:
    from workbench.progress import human

    head = ["config", "device", "precision", "compile", "ms/step (median)", "tok/s", "MFU", "peak memory",
            "compile s", "loss"]
    rows = []
    for r in results:
        mfu_text = "n/a" if r["mfu"] is None else f"{100 * r['mfu']:.1f}%"
        ms = "n/a" if r["ms_per_step"] is None else f"{r['ms_per_step']:.2f}"
        rows.append([r["config"], r["device"], r["precision"],
                     ("yes" + (f" ({r['compile_mode']})" if r["compile_mode"] not in (None, "default") else ""))
                     if r["compile"] else "no",
                     ms, human(r["tok_per_s"]), mfu_text,
                     _mem(r["peak_memory_bytes"]) + ("" if r["peak_memory_kind"].startswith("cuda") else " (RSS)"),
                     f"{r['compile_s']:.1f}", f"{r['loss']:.3f}"])
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: str | Path, results: list[dict], steps: int, warmup: int) -> None:
    data = {"machine": machine(), "steps": steps, "warmup": warmup, "results": results}
    Path(path).write_text(json.dumps(data, indent=2) + "\n")
