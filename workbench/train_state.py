"""The training state: everything exact resume needs, in one dataclass.

`state_dict()` is what a checkpoint saves and `load_state_dict()` is what resume
restores, field by field: a field is either a number or an object with its own
state_dict() (model, optimizer, grad scaler), so
adding a field adds it to both. Every RNG of the process is saved beside them
(batches need none: they are a function of seed and step).

Under torchrun the recorder reads the checkpoint for every rank (`read_checkpoint`), and
each rank takes back its own RNG where the world size is the same (`restore_rank_rng`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import torch

from workbench.checkpoint import load, rng_state, set_rng_state
from workbench.distributed import Dist
from workbench.errors import WorkbenchError
from workbench.window import Speed


@dataclass
class TrainState:
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    step: int = 0
    tokens: int = 0
    train_time: float = 0.0  # seconds of training over all the run's sessions (for max_time)
    best_val: float | None = None
    ema_loss: float | None = None  # running means for the spike and blowup events
    ema_norm: float | None = None
    speed: Speed = field(default_factory=Speed)  # the run's mean tok/s, all sessions

    def state_dict(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.state_dict() if hasattr(value, "state_dict") else value
        out["rng"] = rng_state()
        return out

    def load_state_dict(self, d: dict) -> None:
        for f in fields(self):
            if f.name not in d:
                continue  # a checkpoint from before the field existed: keep the default
            value = getattr(self, f.name)
            if hasattr(value, "load_state_dict"):
                value.load_state_dict(d[f.name])
            else:
                setattr(self, f.name, d[f.name])
        set_rng_state(d["rng"])

    def weights_finite(self) -> bool:
        """No NaN/Inf in any parameter (one device sync): never checkpoint a diverged model."""
        flags = [torch.isfinite(p).all() for p in self.model.parameters()]
        return bool(torch.stack(flags).all()) if flags else True

    def track(self, loss: float, norm: float | None, step: int, warmup: int) -> list[tuple[str, str]]:
        """Update the running means with one step's loss and grad norm; return its events."""
        events = []
        spike, blowup = 1.5, 10.0  # a loss this many times its running mean is a spike, a norm a blowup
        if self.ema_loss is not None and step > warmup and loss > spike * self.ema_loss:
            events.append(("spike", f"loss {loss:.4f} at step {step}, running mean {self.ema_loss:.4f}"))
        self.ema_loss = loss if self.ema_loss is None else 0.9 * self.ema_loss + 0.1 * loss
        if norm is not None and math.isfinite(norm):
            if self.ema_norm is not None and step > 10 and norm > blowup * self.ema_norm:
                events.append(("grad_blowup", f"grad norm {norm:.3g} at step {step}, running mean "
                                              f"{self.ema_norm:.3g}"))
            self.ema_norm = norm if self.ema_norm is None else 0.9 * self.ema_norm + 0.1 * norm
        return events


def read_checkpoint(run, d: Dist, tok, device) -> dict:
    """The run's last checkpoint, read before the model is built (build() calls this); under
    torchrun the recorder reads it and sends it to the other ranks, which need no run folder."""

    def read() -> dict:
        ckpt = load(run.checkpoint("last"), map_location="cpu" if d.active else device)
        if ckpt["tokenizer"] != tok.state():
            raise WorkbenchError(f"{run.id}: the data's vocabulary differs from the checkpoint's; "
                                 "the dataset changed since the run started")
        return ckpt

    return d.from_recorder(read) if d.active else read()


def restore_rank_rng(ckpt: dict, d: Dist) -> None:
    """Each rank's own RNG (dropout) when the world size is the one the checkpoint was saved
    with; TrainState restored the recorder's. Another world size: each rank reseeds from
    the step, so no two ranks share dropout masks."""
    by_rank = ckpt.get("rng_by_rank")
    if by_rank and len(by_rank) == d.world_size:
        set_rng_state(by_rank[d.rank])
    elif d.rank:
        torch.manual_seed(hash((ckpt["step"], d.rank)) % 2**63)
