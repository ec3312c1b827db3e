"""A run's checkpoint files by name, with their sizes: what `show`, `attn` and the TUI list.

    checkpoints/init.pt           the model as initialised, weights only (checkpoint.keep_init)
    checkpoints/step-0000500.pt   the weights at step 500 (checkpoint.keep_every)
    checkpoints/best.pt           the best val loss so far (checkpoint.keep_best)
    checkpoints/last.pt           the latest full checkpoint, the one a resume reads

No torch here: listing reads names and sizes only. A name is only ever built from a
checked spec (init, best, last or a step number), never from a file's contents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import WorkbenchError

NAMED = ("init", "best", "last")
FILE = re.compile(r"(init|best|last|step-(\d{1,12}))\.pt")


@dataclass
class CheckpointFile:
    name: str  # init, step-0000500, best or last
    path: Path
    size: int  # bytes
    step: int | None  # from the name: 0 for init, N for step-N; best and last hold theirs inside

    @property
    def label(self) -> str:
        return self.name if self.step is None or self.name == "init" else f"step {self.step}"


def step_name(step: int) -> str:
    return f"step-{step:07d}"


def spec_name(spec: str) -> str:
    """'init', 'best', 'last' or a step number -> the file's stem; WorkbenchError otherwise."""
    spec = spec.strip()
    if spec in NAMED:
        return spec
    digits = spec[5:] if spec.startswith("step-") else spec
    if digits.isdigit() and len(digits) <= 12:
        return step_name(int(digits))
    raise WorkbenchError(f"checkpoint {spec!r}: use init, best, last or a step number like 500")


def _order(c: CheckpointFile) -> tuple:
    rank = {"init": 0, "best": 2, "last": 3}.get(c.name, 1)
    return rank, c.step or 0


def list_checkpoints(folder: Path) -> list[CheckpointFile]:
    """The checkpoints in a run's checkpoints/ folder: init, the kept steps in order, best, last.
    Files with other names (a save's temp file, anything else) are not checkpoints."""
    out = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return []
    for p in entries:
        m = FILE.fullmatch(p.name)
        if not m or p.is_symlink() or not p.is_file():
            continue
        step = 0 if m.group(1) == "init" else int(m.group(2)) if m.group(2) else None
        out.append(CheckpointFile(p.name[:-3], p, p.stat().st_size, step))
    return sorted(out, key=_order)


def find_checkpoint(folder: Path, spec: str, run_id: str) -> CheckpointFile:
    """The checkpoint a spec names, or an error that says which there are and how to get more."""
    name = spec_name(spec)
    found = list_checkpoints(folder)
    for c in found:
        if c.name == name:
            return c
    have = ", ".join(c.label for c in found) or "none"
    hint = {"init": "; keep one with checkpoint.keep_init = true",
            "best": "; best.pt is written by an evaluation that improves (checkpoint.keep_best)"}.get(
        name, "; keep steps with checkpoint.keep_every = N" if name.startswith("step-") else "")
    raise WorkbenchError(f"{run_id} has no {name} checkpoint (it has: {have}){hint}")
