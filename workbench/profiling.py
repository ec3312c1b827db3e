"""`workbench profile`: a few training steps under torch.profiler, the most expensive
operators, and a verdict on where a step's time goes.

The steps are the trainer's own (`step.build`, `step.train_step`). Warmup steps
(compilation included) run first, outside the profiler. Categories of the verdict:

    data          drawing batches (workbench::data, a record_function around Batches.draw)
    host sync     host-device copies and syncs: aten::item, aten::_local_scalar_dense,
                  aten::to / _to_copy / copy_, cudaStreamSynchronize, cudaDeviceSynchronize, cudaMemcpy*
    optimizer     Optimizer.step and zero_grad (inclusive: the foreach/fused kernels inside)
    attention     scaled_dot_product_*, flash / efficient attention, softmax, bmm, baddbmm
    matmuls       addmm, mm, matmul, linear
    other         the rest of the operators' self time
    idle GPU      (CUDA only) wall time minus the time some kernel ran

CPU shares are of the operators' self CPU time; CUDA shares of the kernels' time.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

CATEGORIES = ("data", "host sync", "optimizer", "attention", "matmuls", "other")
_SYNC = ("aten::item", "aten::_local_scalar_dense", "aten::to", "aten::_to_copy", "aten::copy_",
         "cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaMemcpy", "cudaMemcpyAsync",
         "cudaEventSynchronize")
_ATTN = ("scaled_dot_product", "flash", "efficient_attention", "cudnn_attention", "softmax", "aten::bmm",
         "aten::baddbmm", "_masked_softmax")
_MM = ("aten::addmm", "aten::mm", "aten::matmul", "aten::linear")
_OPTIMIZER = ("Optimizer.step", "Optimizer.zero_grad")
DATA_RANGE = "workbench::data"


def category(name: str) -> str:
    if name == DATA_RANGE:
        return "data"
    if name.startswith(_OPTIMIZER):
        return "optimizer"
    if name.startswith(_SYNC):
        return "host sync"
    if any(k in name for k in _ATTN):
        return "attention"
    if name in _MM:
        return "matmuls"
    return "other"


def _self_device_us(e) -> float:
    for attr in ("self_device_time_total", "self_cuda_time_total"):
        v = getattr(e, attr, None)
        if v is not None:
            return float(v)
    return 0.0


def _device_us(e) -> float:
    for attr in ("device_time_total", "cuda_time_total"):
        v = getattr(e, attr, None)
        if v is not None:
            return float(v)
    return 0.0


def profile_config(cfg, steps: int = 5, warmup: int = 3, top: int = 25) -> dict:
    """Run `warmup` steps, then `steps` steps under torch.profiler; the table and verdict."""
    import torch

    from workbench.step import build

    p = build(cfg)
    setup = p.setup
    cuda = setup.device.type == "cuda"
    events, loss, warmup_s, wall_s = _profiled_steps(p, cfg, steps, warmup)
    rows = _operator_rows(events, cuda)
    # the table: operators by self time on the device that does the work
    key = "self_cuda_ms" if cuda else "self_cpu_ms"
    table = sorted((r for r in rows if not r["name"].startswith("ProfilerStep")),
                   key=lambda r: r[key] or 0.0, reverse=True)[:top]
    wall_ms = 1000 * wall_s
    breakdown = _breakdown(rows, events, cuda, wall_ms)
    tokens = p.tokens_per_step * steps
    return {
        "config": cfg.experiment.name, "device": setup.device_name, "precision": setup.precision,
        "compile": setup.compile, "steps": steps, "warmup": warmup, "warmup_s": warmup_s,
        "wall_ms": wall_ms, "ms_per_step": wall_ms / steps, "tok_per_s": tokens / wall_s,
        "tokens_per_step": p.tokens_per_step, "params": p.counts["total"],
        "loss": float(loss.float().item()), "table": table, "breakdown": breakdown,
        "verdict": verdict(breakdown, cuda, wall_ms / steps, faster_precision(setup)),
        "torch": torch.__version__,
    }


def _profiled_steps(p, cfg, steps: int, warmup: int):
    """Warm up, then `steps` training steps under torch.profiler, the data draws marked as a range.
    (key_averages() events, the last loss, warmup seconds, profiled wall seconds)."""
    from torch.profiler import ProfilerActivity, profile, record_function

    from workbench.step import stepper

    setup = p.setup
    batches = p.train_batches
    draw = batches.draw

    def draw_batch(step: int, index: int):
        with record_function(DATA_RANGE):
            return draw(step, index)

    batches.draw = draw_batch  # this Batches only: the data range shows in the trace
    p.model.train()
    one = stepper(p, cfg.train)

    t0 = time.perf_counter()
    for _ in range(max(1, warmup)):
        one()
    setup.sync()
    warmup_s = time.perf_counter() - t0
    cuda = setup.device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities, record_shapes=False) as prof:
        w0 = time.perf_counter()
        for _ in range(steps):
            loss = one()
        setup.sync()
        wall_s = time.perf_counter() - w0
    return prof.key_averages(), loss, warmup_s, wall_s


def _operator_rows(events, cuda: bool) -> list[dict]:
    return [{"name": e.key, "self_cpu_ms": e.self_cpu_time_total / 1000,
             "cpu_total_ms": e.cpu_time_total / 1000,
             "self_cuda_ms": _self_device_us(e) / 1000 if cuda else None,
             "calls": int(e.count), "category": category(e.key)} for e in events]


def _breakdown(rows: list[dict], events, cuda: bool, wall_ms: float) -> list[dict]:
    """Time by category (CATEGORIES), on the CPU and, on a GPU, the device, plus the GPU's idle time."""
    cpu_by: dict[str, float] = dict.fromkeys(CATEGORIES, 0.0)
    cuda_by: dict[str, float] = dict.fromkeys(CATEGORIES, 0.0)
    for r, e in zip(rows, events, strict=True):
        c = r["category"]
        if c in ("data", "optimizer"):
            # ranges: their inclusive time, and the ops inside are taken out of the others below
            cpu_by[c] += r["cpu_total_ms"]
            if cuda:
                cuda_by[c] += _device_us(e) / 1000
        else:
            cpu_by[c] += r["self_cpu_ms"]
            if cuda:
                cuda_by[c] += r["self_cuda_ms"] or 0.0
    # the ops inside the data and optimizer ranges were also counted under their own names;
    # take the ranges' inclusive time out of "other" (where the foreach/copy ops mostly land)
    range_cpu = cpu_by["data"] + cpu_by["optimizer"]
    cpu_by["other"] = max(0.0, cpu_by["other"] - range_cpu)
    if cuda:
        cuda_by["other"] = max(0.0, cuda_by["other"] - cuda_by["data"] - cuda_by["optimizer"])
    cpu_total = sum(cpu_by.values()) or 1.0
    breakdown = [{"category": c, "cpu_ms": cpu_by[c], "cpu_share": cpu_by[c] / cpu_total,
                  "cuda_ms": cuda_by[c] if cuda else None} for c in CATEGORIES]
    if cuda:
        idle_ms = max(0.0, wall_ms - sum(cuda_by.values()))
        for b in breakdown:
            b["cuda_share"] = b["cuda_ms"] / wall_ms
        breakdown.append({"category": "idle GPU", "cpu_ms": None, "cpu_share": None,
                          "cuda_ms": idle_ms, "cuda_share": idle_ms / wall_ms})
    return breakdown


def faster_precision(setup) -> str:
    """The lower precision that would make this device's matmuls faster, or '' (a CPU or an
    MPS device, a GPU without the tensor cores for it, or a precision that is already low)."""
    import torch

    if setup.device.type != "cuda" or setup.precision in ("bf16", "fp16"):
        return ""
    major, _ = torch.cuda.get_device_capability(setup.device)
    if major >= 8:  # Ampere and later: tf32 and bf16 tensor cores
        return "system.precision = 'bf16'" if setup.precision == "tf32" else "system.precision = 'tf32' or 'bf16'"
    return "system.precision = 'fp16'" if major >= 7 else ""  # Volta/Turing: fp16 tensor cores only


def verdict(breakdown: list[dict], cuda: bool, ms_per_step: float, faster: str = "") -> str:
    """A few sentences: where the step's time goes, and what to try. `faster`: the precision
    advice that fits the device (faster_precision), '' for none."""
    share = "cuda_share" if cuda else "cpu_share"
    parts = sorted((b for b in breakdown if b.get(share) is not None), key=lambda b: b[share], reverse=True)
    where = ", ".join(f"{b['category']} {100 * b[share]:.0f}%" for b in parts if b[share] >= 0.01)
    unit = "of the GPU's wall time" if cuda else "of the operators' CPU time"
    lines = [f"{ms_per_step:.1f} ms per step; {where} ({unit})."]
    top = parts[0]["category"] if parts else ""
    by = {b["category"]: b.get(share) or 0.0 for b in breakdown}
    if cuda and by.get("idle GPU", 0) > 0.3:
        lines.append("The GPU idles for much of the step: the host cannot launch kernels fast enough; "
                     "try torch.compile (system.compile), compile_mode = 'reduce-overhead' (CUDA graphs) "
                     "or a larger batch.")
    if by.get("host sync", 0) > 0.1:
        lines.append("Host-device copies and syncs are large: look for .item()/.tolist()/.cpu() in the step "
                     "and for data copied from the host each step.")
    if by.get("data", 0) > 0.1:
        lines.append("Data loading is large: keep the dataset on the device (it is, below "
                     "200M tokens) or use a smaller, pre-tokenized .bin.")
    if by.get("optimizer", 0) > 0.2:
        lines.append("The optimizer is large: turn on system.fused_optimizer (CUDA) or compile.")
    if top == "attention":
        lines.append("Attention dominates: model.attention = 'sdpa' uses flash attention on a GPU.")
    elif top == "matmuls":
        lines.append("Matmuls dominate: the step is compute-bound, as it should be"
                     + (f"; {faster} makes them faster." if faster else "."))
    return " ".join(lines)


def format_table(result: dict) -> str:
    cuda = result["table"] and result["table"][0].get("self_cuda_ms") is not None
    head = f"{'operator':<48} {'self CPU ms':>12} {'self CUDA ms':>13} {'calls':>7}"
    out = [head, "-" * len(head)]
    for r in result["table"]:
        name = r["name"] if len(r["name"]) <= 48 else r["name"][:47] + "…"
        cu = f"{r['self_cuda_ms']:.2f}" if cuda and r["self_cuda_ms"] is not None else "n/a"
        out.append(f"{name:<48} {r['self_cpu_ms']:12.2f} {cu:>13} {r['calls']:7d}")
    out.append("")
    out.append("where the time goes:")
    for b in result["breakdown"]:
        cpu = "" if b["cpu_ms"] is None else f"CPU {b['cpu_ms']:9.2f} ms ({100 * b['cpu_share']:4.1f}%)"
        cu = "" if b.get("cuda_ms") is None else f"  CUDA {b['cuda_ms']:9.2f} ms ({100 * b['cuda_share']:4.1f}%)"
        out.append(f"  {b['category']:<10} {cpu}{cu}")
    out.append("")
    out.append("verdict: " + result["verdict"])
    return "\n".join(out)


def write_profile(path: Path, result: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, path)
