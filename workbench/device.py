"""Device, precision, autocast, grad scaler and torch.compile resolution.

`auto` means: device cuda, then mps, then cpu; precision bf16 on a CUDA GPU that
supports it, else fp32; compile on for CUDA only.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from workbench.errors import WorkbenchError


@dataclass
class Setup:
    device: torch.device
    device_name: str
    precision: str  # fp32 | tf32 | bf16 | fp16, resolved
    compile: bool
    fused_optimizer: bool

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)

    def autocast(self):
        """The autocast context for forward passes (a no-op for fp32 and tf32)."""
        dtype = self.autocast_dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def scaler(self) -> torch.amp.GradScaler:
        """A GradScaler, enabled for fp16 only (bf16 and fp32 need none)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elif self.device.type == "mps":
            torch.mps.synchronize()


def gpu_index(listed: list[int], local_rank: int, visible: str | None = None) -> int:
    """The CUDA index of this process's GPU from system.device's list: the launcher sets
    CUDA_VISIBLE_DEVICES to exactly that list (then GPU i is cuda:i); under a plain torchrun
    every GPU is visible and the list is read as CUDA indices."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES") if visible is None else visible
    if visible is not None and visible.replace(" ", "") == ",".join(str(i) for i in listed):
        return local_rank
    return listed[local_rank]


def resolve_device(name: str | list, local_rank: int | None = None) -> torch.device:
    """The device of this process; `local_rank` is set under torchrun (one GPU per rank)."""
    if isinstance(name, list):
        if local_rank is not None and local_rank >= len(name):
            raise WorkbenchError(f"system.device lists {len(name)} GPUs, too few for local rank {local_rank}")
        name = f"cuda:{gpu_index(name, local_rank or 0)}"
    elif local_rank is not None and name in ("auto", "cuda") and torch.cuda.is_available():
        name = f"cuda:{local_rank}"
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise WorkbenchError(f"system.device is {name!r} but no CUDA GPU is available to torch "
                                 f"{torch.__version__}; use system.device = \"cpu\" or \"auto\"")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise WorkbenchError(f"system.device is {name!r} but there are {torch.cuda.device_count()} GPUs")
        return dev
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise WorkbenchError("system.device is 'mps' but MPS is not available; use 'cpu' or 'auto'")
    return torch.device(name)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type


def resolve(system, local_rank: int | None = None) -> Setup:
    """The device, precision, compile and fused-optimizer choices for a [system] section;
    under torchrun, `local_rank` picks the GPU."""
    device = resolve_device(system.device, local_rank)
    precision = system.precision
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise WorkbenchError(f"{device_name(device)} has no bf16 support; set system.precision to "
                             "'fp16' or 'tf32'")
    compile_ = system.compile
    if compile_ == "auto":
        compile_ = device.type == "cuda"
    # fused AdamW: one kernel for all parameters; on CPU (torch >= 2.4) about 5x faster than the
    # per-parameter loop, which dominated small models' steps in `workbench profile`
    fused = bool(system.fused_optimizer) and device.type in ("cuda", "cpu")
    # tf32 matmuls for tf32 and the autocast precisions (their fp32 leftovers), plain fp32 otherwise
    fast = precision in ("tf32", "bf16", "fp16")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = fast
        torch.backends.cudnn.allow_tf32 = fast
    torch.set_float32_matmul_precision("high" if fast else "highest")
    if system.threads > 0:
        torch.set_num_threads(system.threads)
    return Setup(device, device_name(device), precision, bool(compile_), fused)


def is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.OutOfMemoryError) or "CUDA out of memory" in str(e)
