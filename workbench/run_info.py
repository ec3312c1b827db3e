"""What run.json holds (RunInfo), read as untrusted input, and whether its process still lives.

Split from store.py: the store creates and lists runs; this is one run's record. No torch.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
# "damaged": a reader could not make sense of the run's files (run.json, metrics.sqlite, the folder
# name); the reason says which. Only readers say it; no writer ever records it.
STATUSES = ("running", "finished", "stopped", "failed", "diverged", "crashed", "damaged", "pruned")
ENDED = ("finished", "stopped", "failed", "diverged", "crashed", "pruned")  # pruned: a sweep ended it early


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:  # not Linux: boot time stands in for it
        import psutil

        return f"boot-{int(psutil.boot_time())}"


def process_start_time(pid: int) -> float | None:
    """When the process started, or None if it is gone (a zombie counts as gone: it has exited,
    only its parent has not collected it yet)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        return None


@dataclass
class RunInfo:
    """What run.json holds. `summary` is kept up to date by the trainer for fast listing."""

    id: str
    kind: str = "trainer"  # "trainer" (an experiment file), "script" (workbench.init), "command" (run -- CMD)
    status: str = "running"
    reason: str = ""
    experiment: str = ""
    experiment_file: str = ""
    extends_chain: list = field(default_factory=list)
    overrides: list = field(default_factory=list)  # --set key=value given at the start (and on resume)
    parent_config: dict | None = None
    tags: list = field(default_factory=list)
    argv: list = field(default_factory=list)  # a script's or command's argv
    cwd: str = ""  # the folder it ran in
    env: dict = field(default_factory=dict)  # the environment variables the user asked to record
    pid: int | None = None
    pgid: int | None = None
    pid_start_time: float | None = None
    hostname: str = ""
    boot_id: str = ""
    started: float | None = None
    ended: float | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    torch_version: str = ""
    cuda_version: str = ""
    device_name: str = ""
    gpus: list = field(default_factory=list)  # NVML indices the launcher gave the run
    params: int | None = None
    params_no_embedding: int | None = None
    max_steps: int | None = None
    resumed_from: dict | None = None  # status, reason, ended before the resume now starting
    # a fork (fork.py): {"run": parent id, "checkpoint": "last" | "best", "step": N, null until trained}
    forked_from: dict | None = None
    summary: dict = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def from_dict(cls, d: dict) -> RunInfo:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def parse(cls, text: str, run_id: str) -> RunInfo:
        """run.json as written by anyone (an import, a hand edit): every field checked against its
        type, the id taken from the folder name. A file that does not fit is a damaged run."""
        try:
            d = json.loads(text)
        except ValueError as e:
            return cls.damaged(run_id, f"run.json is not valid JSON ({e})")
        if not isinstance(d, dict):
            return cls.damaged(run_id, f"run.json holds a {type(d).__name__}, not an object")
        if d.get("status") not in STATUSES:
            return cls.damaged(run_id, f"run.json has no valid status ({str(d.get('status'))[:40]!r})")
        for f in fields(cls):
            if f.name in d and f.name != "id" and not _fits(d[f.name], f.type):
                wanted = " or ".join(_WORDS[t] for t in str(f.type).split(" | "))
                return cls.damaged(run_id, f"run.json: {f.name} should be {wanted}, "
                                           f"not {json.dumps(d[f.name])[:40]}")
        if d.get("forked_from") is not None and not _fork_fits(d["forked_from"]):
            return cls.damaged(run_id, "run.json: forked_from should be {run, checkpoint, step}, "
                                       f"not {json.dumps(d['forked_from'])[:40]}")
        bad = [k for k, v in (d.get("summary") or {}).items() if not _fits(v, "float | None")]
        if bad:
            return cls.damaged(run_id, f"run.json: summary.{bad[0]} should be a number")
        return cls.from_dict({**d, "id": run_id})

    @classmethod
    def damaged(cls, run_id: str, reason: str) -> RunInfo:
        return cls(id=run_id, status="damaged", reason=reason)

    def is_alive(self) -> bool:
        """Is the process that owns this run still the one that started it?"""
        if self.pid is None:
            return False
        if self.hostname and self.hostname != socket.gethostname():
            return True  # another host's run: we cannot tell, trust run.json
        if self.boot_id and self.boot_id != boot_id():
            return False
        started = process_start_time(self.pid)
        if started is None:
            return False
        return self.pid_start_time is None or abs(started - self.pid_start_time) < 1.0


_WORDS = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
          "list": "a list", "dict": "an object", "None": "null"}
_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "list": (list,),
          "dict": (dict,), "None": (type(None),)}


def _fork_fits(d: dict) -> bool:
    """forked_from as fork.py writes it: a parent id (checked again where it is used), a checkpoint
    name and a step or null."""
    run, step = d.get("run"), d.get("step")
    return (isinstance(run, str) and 0 < len(run) <= 200 and d.get("checkpoint") in ("last", "best")
            and (step is None or _fits(step, "int") and step >= 0))


def _fits(value: Any, annotation: str) -> bool:
    """Does a JSON value fit a field annotated "int | None", "list", …? (bool is not a number here.)"""
    kinds = tuple(t for name in annotation.split(" | ") for t in _TYPES[name])
    if isinstance(value, bool) and bool not in kinds:
        return False
    return isinstance(value, kinds)
