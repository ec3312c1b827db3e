"""Start a command's ranks under torchrun, from `workbench run --nproc N` and `bench --nproc N`.

This process becomes torchrun's elastic agent (`torch.distributed.run`, in process, so a
failed rank comes back as an exception that names it): one node uses `--standalone`, several
use the c10d rendezvous at `--rdzv-endpoint`. Each rank runs `python -m workbench ARGV`.
The agent ends the other ranks when one dies (no restarts).

The node started with `--node-rank 0` records (see distributed.py); it says so to its ranks
through WORKBENCH_NODE_RANK. A list in system.device becomes CUDA_VISIBLE_DEVICES.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

from workbench.distributed import NODE_RANK_ENV
from workbench.errors import WorkbenchError

RDZV_ID = "workbench"  # the same on every node of a multi-node run


@dataclass
class Nodes:
    """Where the ranks run: the command line's --nnodes / --node-rank / --rdzv-endpoint."""

    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str = ""

    def check(self) -> None:
        if self.nnodes < 1 or not 0 <= self.node_rank < self.nnodes:
            raise WorkbenchError(f"--node-rank must be in 0..{self.nnodes - 1} and --nnodes at least 1")
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise WorkbenchError("--nnodes above 1 needs --rdzv-endpoint HOST:PORT (the same on every node; "
                                 "a port that node 0's host has free, like 29500)")

    @property
    def records(self) -> bool:
        """Does this node hold the recording rank?"""
        return self.node_rank == 0


@dataclass
class Failure:
    """How the ranks ended, as the agent saw it."""

    exit_code: int  # for `workbench run`: the ranks' common exit code, else 1
    rank: int | None = None  # the first rank that failed (None: all ended alike)
    local_rank: int | None = None
    why: str = ""


def torchrun_argv(nproc: int, nodes: Nodes, argv: list[str]) -> list[str]:
    """torchrun's command line for `python -m workbench ARGV` on this node."""
    out = [f"--nproc_per_node={nproc}", "--max_restarts=0"]
    if nodes.nnodes > 1 or nodes.rdzv_endpoint:
        out += [f"--nnodes={nodes.nnodes}", f"--node_rank={nodes.node_rank}", "--rdzv_backend=c10d",
                f"--rdzv_endpoint={nodes.rdzv_endpoint}", f"--rdzv_id={RDZV_ID}"]
    else:
        out += ["--standalone"]  # a free port on localhost
    return out + ["-m", "workbench", *argv]


def gpu_env(device) -> dict[str, str]:
    """CUDA_VISIBLE_DEVICES for a list of GPU indices in system.device; nothing otherwise."""
    if isinstance(device, list):
        return {"CUDA_VISIBLE_DEVICES": ",".join(str(i) for i in device)}
    return {}


def launch(nproc: int, nodes: Nodes, argv: list[str], env: dict[str, str] | None = None) -> Failure | None:
    """Run `python -m workbench ARGV` as `nproc` ranks on this node; None when every rank
    exited 0. Blocks until they end."""
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    nodes.check()
    os.environ.update(env or {})
    os.environ[NODE_RANK_ENV] = str(nodes.node_rank)
    # the ranks must import this same workbench, wherever it came from
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, os.environ.get("PYTHONPATH", "")) if p)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    args = torchrun.parse_args(torchrun_argv(nproc, nodes, argv))
    try:
        torchrun.run(args)
    except ChildFailedError as e:
        return describe(e.failures)
    except SignalException as e:  # this agent was signalled; it has ended the ranks
        return Failure(128 + int(e.sigval), why=f"the launcher got {signal.Signals(e.sigval).name}")
    return None


def describe(failures: dict) -> Failure:
    """The ranks' common exit code (all stopped: 143; all bad input: 2), or 1 naming the first
    rank that failed and why."""
    codes = {f.exitcode for f in failures.values()}
    if len(codes) == 1 and next(iter(codes)) > 1 and len(failures) > 1:  # an outcome, not a crash
        return Failure(next(iter(codes)))
    rank, f = min(failures.items(), key=lambda kv: (_effect(kv[1]), kv[1].timestamp, kv[0]))
    if f.exitcode < 0:
        why = f"killed by {f.signal_name()}"
    else:
        msg = f.message if isinstance(f.message, str) else (f.message or {}).get("message", "")
        why = msg.strip().splitlines()[-1] if msg and "pytorch.org/docs" not in msg else f"exit code {f.exitcode}"
    code = f.exitcode if len(failures) == 1 and f.exitcode > 0 else 1
    return Failure(code, rank, f.local_rank, why[:300])


def _effect(f) -> int:
    """How likely a failure is the effect of another one (the agent sees them all at once):
    0 killed by a signal of its own (the OOM killer's SIGKILL), 1 an exception the rank reported,
    2 another non-zero exit (a collective that lost its peer), 3 the SIGTERM/SIGINT the agent
    sends the survivors."""
    if f.exitcode < 0:
        return 3 if -f.exitcode in (signal.SIGTERM, signal.SIGINT) else 0
    reported = (getattr(f, "error_file_data", None) or {}).get("message", "<NONE>") != "<NONE>"
    return 1 if reported else 2
