"""Ranks and nodes: torchrun's environment, the process group, and the few collectives
the training loop needs.

torchrun (started by hand, or by `workbench run --nproc N`, which starts it itself) sets
RANK, LOCAL_RANK, WORLD_SIZE and LOCAL_WORLD_SIZE in each process. Without them this is one
process: `Dist()` with world size 1, and every collective below returns its input.

One rank records (writes the run store): the local rank 0 of the node started with
`--node-rank 0` (our launcher marks it with WORKBENCH_NODE_RANK), else global rank 0. torchrun's
c10d rendezvous numbers the nodes in its own order, so the recorder is not always rank 0.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

NODE_RANK_ENV = "WORKBENCH_NODE_RANK"  # set by workbench's launcher: the --node-rank it was given
TIMEOUT = datetime.timedelta(minutes=10)  # a collective waiting longer than this means a rank is gone


def under_torchrun(env: dict | None = None) -> bool:
    env = os.environ if env is None else env
    return "RANK" in env and "WORLD_SIZE" in env and "LOCAL_RANK" in env


@dataclass
class Dist:
    """This process's place in the group. `Dist()` is the single process."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1
    recorder: int = 0  # the global rank that writes the run store
    active: bool = False  # a process group exists (even of one process: DDP's cost is measurable)

    @property
    def is_recorder(self) -> bool:
        return self.rank == self.recorder

    # ------------------------------------------------------------- collectives

    def all_reduce_mean(self, t: torch.Tensor) -> torch.Tensor:
        """The mean of `t` over ranks (in place, and returned). No host sync."""
        if self.active and self.world_size > 1:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
            t /= self.world_size
        return t

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.active and self.world_size > 1:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def max(self, *values: int) -> list[int]:
        """Each value's maximum over ranks (one small CPU all-reduce; a host sync). The loop agrees
        this way, at log points, on what only some ranks saw: a stop signal, max_time."""
        if not (self.active and self.world_size > 1):
            return [int(v) for v in values]
        t = torch.tensor([int(v) for v in values], dtype=torch.int64)  # CPU: gloo
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return [int(v) for v in t.tolist()]

    def broadcast(self, obj):
        """The recorder's `obj` on every rank (pickled; for configs and checkpoints, not the hot loop)."""
        if not (self.active and self.world_size > 1):
            return obj
        box = [obj if self.is_recorder else None]
        dist.broadcast_object_list(box, src=self.recorder, device=torch.device("cpu"))
        return box[0]

    def gather(self, obj) -> list:
        """Every rank's `obj`, in rank order, on every rank."""
        if not (self.active and self.world_size > 1):
            return [obj]
        out: list = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        """Wait for every rank (a CPU all-reduce: gloo, whatever the run's device)."""
        self.max(0)

    def from_recorder(self, read):
        """`read()` on the recorder, its result on every rank (a checkpoint, a config). A
        WorkbenchError there is raised on every rank, so none waits for a value that never comes."""
        from workbench.errors import WorkbenchError

        out = ("error", "")
        if self.is_recorder:
            try:
                out = ("ok", read())
            except WorkbenchError as e:
                out = ("error", str(e))
        status, value = self.broadcast(out)
        if status == "error":
            raise WorkbenchError(value)
        return value

    def cleanup(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()
        self.active = False


def report_failure(e: BaseException) -> None:
    """Under torchrun, leave the exception where the agent reads it, so the launcher can say
    which rank failed and why."""
    if under_torchrun() and os.environ.get("TORCHELASTIC_ERROR_FILE"):
        from torch.distributed.elastic.multiprocessing.errors import ErrorHandler

        try:
            ErrorHandler().record_exception(e)
        except Exception:  # noqa: BLE001 - reporting must never hide the failure itself
            pass


def init() -> Dist:
    """Join torchrun's process group, or return the single process. One group serves both
    kinds of tensor: NCCL for CUDA ones, gloo for CPU ones (configs, flags, a CPU run), so it can
    be joined before the config says which device the run uses."""
    if not under_torchrun():
        return Dist()
    env = os.environ
    d = Dist(rank=int(env["RANK"]), local_rank=int(env["LOCAL_RANK"]), world_size=int(env["WORLD_SIZE"]),
             local_world_size=int(env.get("LOCAL_WORLD_SIZE", env["WORLD_SIZE"])), active=True)
    dist.init_process_group("cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo", timeout=TIMEOUT)
    d.recorder = _find_recorder(d)
    return d


def _find_recorder(d: Dist) -> int:
    """The lowest global rank that is local rank 0 of the node launched with --node-rank 0;
    global rank 0 when no node says so (torchrun started by hand)."""
    claims = os.environ.get(NODE_RANK_ENV) == "0" and d.local_rank == 0
    t = torch.tensor([d.rank if claims else d.world_size], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    found = int(t.item())
    return found if found < d.world_size else 0
