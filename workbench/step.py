"""The pieces of one training step, shared by `workbench run`, `bench` and `profile`.

`build(cfg)` makes everything a run needs (seeded data, model, optimizer, scaler,
batches, the compiled model, FLOPs per token and the device's peak); `train_step`
does one optimizer step with no host sync. The loop around them is in trainer.py.

Under torchrun (`dist.active`) the compiled model is wrapped in DistributedDataParallel:
rank r takes micro-batches r*grad_accum … (r+1)*grad_accum-1 of each step, gradients are
averaged over ranks on the last micro-step only (no_sync before it), and every rank then
takes the same optimizer step.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from workbench.config import Config
from workbench.data import load_dataset
from workbench.device import resolve
from workbench.distributed import Dist
from workbench.mfu import flops_per_token, run_peak
from workbench.model import build_model, configure_optimizer
from workbench.schedule import lr_at


@dataclass
class Parts:
    """Everything a training step needs, built the same way for `run`, `bench` and `profile`."""

    setup: object  # device.Setup
    ds: object  # data.Dataset
    model: torch.nn.Module
    compiled: torch.nn.Module  # the model, or torch.compile(model): compiled once
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    train_batches: object  # data.Batches
    val_batches: object
    counts: dict
    tokens_per_step: int
    flops_per_token: float
    peak: float | None  # dense TFLOP/s of the device at the run's precision, or None
    ckpt: dict | None = None
    dist: Dist = field(default_factory=Dist)
    ddp: torch.nn.Module | None = None  # DistributedDataParallel(compiled), under torchrun


def build(cfg: Config, setup=None, load_ckpt=None, dist: Dist | None = None) -> Parts:
    """Seeds, data, model, optimizer, scaler, batches and the compiled model for `cfg`.
    `load_ckpt(tokenizer, device)`, when given, returns a checkpoint (or None), read before
    the model is built so a resumed run refuses a changed vocabulary first. With an active
    `dist` (torchrun), the model is also wrapped in DistributedDataParallel."""
    from workbench.data import Batches

    t, m = cfg.train, cfg.model
    dist = dist or Dist()
    setup = setup or resolve(cfg.system, dist.local_rank if dist.active else None)
    device = setup.device
    torch.manual_seed(t.seed)
    np.random.seed(t.seed % 2**32)
    random.seed(t.seed)
    ds = load_dataset(cfg.data)
    ckpt = load_ckpt(ds.tokenizer, device) if load_ckpt else None
    model = build_model(m, ds.tokenizer.vocab_size).to(device)
    if m.init_from and ckpt is None:  # a resumed run's weights come from its checkpoint
        from workbench.formats.hf_gpt2 import load_weights

        load_weights(model, m.init_from)
    if dist.rank:
        torch.manual_seed(t.seed + dist.rank)  # init is the same everywhere; dropout differs per rank
    counts = model.param_counts()
    optimizer = configure_optimizer(model, t.weight_decay, t.lr, (t.beta1, t.beta2), setup.fused_optimizer)
    scaler = setup.scaler()
    B, T = t.batch_size, m.block_size
    train_batches = Batches(ds.train, T, B, device, t.seed, "train")
    val_batches = Batches(ds.val, T, B, device, t.seed + 1, "val")
    compiled = model
    if setup.compile:
        mode = None if cfg.system.compile_mode == "default" else cfg.system.compile_mode
        compiled = torch.compile(model, mode=mode)
    ddp = None
    if dist.active:
        import inspect

        from torch.nn.parallel import DistributedDataParallel

        # buffers (the causal mask) are constants: no broadcast before every forward
        no_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in
                   inspect.signature(DistributedDataParallel).parameters else {"broadcast_buffers": False})
        if device.type == "cuda":
            torch.cuda.set_device(device)
        ddp = DistributedDataParallel(compiled, device_ids=[device.index] if device.type == "cuda" else None,
                                      gradient_as_bucket_view=True, **no_sync)
    peak = run_peak(setup.device_name, setup.precision, cfg.system.peak_tflops)
    fpt = flops_per_token(counts["flops"], getattr(model, "n_layer", 0), getattr(model, "n_head", 0),
                          getattr(model, "head_size", 0), T)
    return Parts(setup, ds, model, compiled, optimizer, scaler, train_batches, val_batches, counts,
                 B * T * t.grad_accum * dist.world_size, fpt, peak, ckpt, dist, ddp)


def train_step(p: Parts, step: int, grad_accum: int, grad_clip: float) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Optimizer step `step`: this rank's grad_accum micro-batches forward and backward, clip, step.
    Returns this rank's loss and the grad norm as device tensors: no host sync."""
    loss_sum = None
    forward = p.ddp or p.compiled
    first = p.dist.rank * grad_accum  # this rank's share of the step's micro-batches
    for i in range(grad_accum):
        x, y = p.train_batches.draw(step, first + i)
        # DDP averages gradients over ranks in backward: only on the last micro-step
        last = i == grad_accum - 1
        with contextlib.nullcontext() if last or p.ddp is None else p.ddp.no_sync():
            with p.setup.autocast():
                _, loss = forward(x, y)
                if grad_accum > 1:
                    loss = loss / grad_accum
            p.scaler.scale(loss).backward()
        loss_sum = loss.detach() if loss_sum is None else loss_sum + loss.detach()
    norm = None
    if grad_clip > 0:
        p.scaler.unscale_(p.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(p.model.parameters(), grad_clip)
    p.scaler.step(p.optimizer)
    p.scaler.update()
    p.optimizer.zero_grad(set_to_none=True)
    return loss_sum, norm


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def stepper(p: Parts, t) -> Callable[[], torch.Tensor]:
    """One scheduled training step per call, counting steps from 0 (bench and profile)."""
    step = 0

    def one() -> torch.Tensor:
        nonlocal step
        set_lr(p.optimizer, lr_at(step, t))
        loss, _ = train_step(p, step, t.grad_accum, t.grad_clip)
        step += 1
        return loss

    return one
