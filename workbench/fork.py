"""`workbench fork RUN`: a new run that starts from another run's checkpoint with changed settings.

A fork is a run folder of its own (a new id, from the experiment's name) whose config is the
parent's with the `--set` overrides, and whose checkpoints/last.pt is the parent's last or best
checkpoint (a hard link where the file system allows: a checkpoint is never written in place, so
the parent's next save leaves the child's file as it was). So a fork is a stopped run at the fork
point; resuming it (launch.resume_run, `workbench run --resume`) restores the full state a resume
restores (weights, optimizer, step, tokens, RNG; batches follow from seed and step) and trains on
to the new limits.

run.json keeps the relation: forked_from = {"run", "checkpoint", "step"} (step is null until the
fork's trainer has read the checkpoint: see `pending`) and parent_config = the parent's config,
which the dashboard's config pane and `workbench diff RUN` compare against. The child's own
metrics start at the fork step; the parent's curve before it stays in the parent (the dashboard
draws it faint through `parent_of`; compare shows both). The child's best val loss and best.pt are its own, counted from the fork.

No torch at import: the TUI forks through `start_fork`; only `checkpoint_step` loads torch.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from workbench import preflight
from workbench.config import Config
from workbench.errors import WorkbenchError
from workbench.formatting import override_keys
from workbench.run_info import RunInfo
from workbench.store import Run, RunStore, run_id_problem

FROM = ("last", "best")
# model keys a fork may change: they neither shape the weights nor change what they compute
FREE_MODEL_KEYS = ("model.dropout", "model.attention")
VOCAB_KEYS = ("data.tokenizer",)  # the embedding's rows are the parent's vocabulary


def parent_checkpoint(parent: Run, which: str) -> Path:
    """The parent's checkpoint to fork from, or WorkbenchError saying what to do instead."""
    if which not in FROM:
        raise WorkbenchError(f"--from {which!r}: fork from 'last' or 'best'")
    info = parent.info()
    if info.status == "damaged":
        raise WorkbenchError(f"{parent.id} is damaged ({info.reason}); it cannot be forked")
    if info.kind != "trainer":
        raise WorkbenchError(f"{parent.id} is a {info.kind}'s run; only runs of experiment files have "
                             "checkpoints a fork can train on")
    path = parent.checkpoint(which)
    if path.is_file():
        return path
    if which == "best":
        raise WorkbenchError(f"{parent.id} has no best checkpoint (checkpoint.keep_best writes one at an "
                             f"evaluation that improves); fork its last one: `workbench fork {parent.id} "
                             "--from last`")
    raise WorkbenchError(f"{parent.id} has no last checkpoint yet (one is written every checkpoint.interval "
                         "steps and when a run ends or stops)")


def fork_config(parent: Run, overrides: list[str] | tuple = (), name: str | None = None,
                which: str = "last") -> Config:
    """The parent's config with the overrides; refused where they change what the weights are, or
    leave a fork of a finished run's last checkpoint nothing to train (known without torch)."""
    from workbench.launch import apply_overrides, extends, reached_limit

    base = parent.config()
    cfg = apply_overrides(base, overrides)
    changed = [k for k in override_keys(list(overrides)) if k.startswith("model.") or k in VOCAB_KEYS]
    for key in changed:
        if key in FREE_MODEL_KEYS or _value(base, key) == _value(cfg, key):
            continue
        raise WorkbenchError(f"--set {key}: a fork goes on training {parent.id}'s weights, whose shape or "
                             f"meaning {key} decides; of the model, a fork may change only "
                             f"{' and '.join(FREE_MODEL_KEYS)}. For another model start a new run "
                             "(`workbench run EXPERIMENT --set ...`)")
    if which == "last" and parent.info().status == "finished" and not extends(base.train, cfg.train):
        key, value = reached_limit(base.train)
        raise WorkbenchError(f"{parent.id} is finished: its last checkpoint is at its {key} ({value}); "
                             f"give the fork room to train: --set {key}=N above that, or fork its best "
                             "checkpoint (--from best)")
    if name:
        cfg.experiment.name = name
    preflight.check(cfg, f"fork of {parent.id}")
    return cfg


def _value(cfg: Config, dotted: str):
    section, key = dotted.split(".", 1)
    return getattr(getattr(cfg, section), key, None)


def checkpoint_step(path: Path) -> int:
    """The step a checkpoint was saved at (memory-mapped: its tensors are not read)."""
    import torch

    from workbench.checkpoint import load

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - say why the way checkpoint.load does
        ckpt = load(path)
    step = ckpt.get("step") if isinstance(ckpt, dict) else None
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise WorkbenchError(f"{path}: not a training checkpoint (it holds no step)")
    return step


def check_start(cfg: Config, step: int, parent_id: str) -> None:
    """A fork must have steps left to train: a max_steps at or below the fork's step is a mistake."""
    limit = cfg.train.max_steps
    if limit and step >= limit:
        raise WorkbenchError(f"the fork starts at step {step} of {parent_id}, and train.max_steps is {limit}; "
                             f"give it room: --set train.max_steps=N with N above {step}")


def create_fork(store: RunStore, parent: Run, which: str, cfg: Config,
                overrides: list[str] | tuple = ()) -> Run:
    """The child run folder: config.toml, run.json (forked_from, parent_config) and checkpoints/last.pt
    from the parent's checkpoint. It is left stopped at the fork point; resume it to train."""
    source = parent_checkpoint(parent, which)
    parent_cfg = parent.config().to_dict()
    child = store.run(store.new_run_id(cfg.experiment.name))
    with child.lock().acquire():
        store.create_run(child.id, cfg, overrides=overrides)
        link_or_copy(source, child.checkpoint("last"))
        pinfo = parent.raw_info()
        child.update_info(forked_from={"run": parent.id, "checkpoint": which, "step": None},
                          parent_config=parent_cfg, experiment_file=pinfo.experiment_file,
                          git_commit=pinfo.git_commit, git_dirty=pinfo.git_dirty, tags=list(pinfo.tags))
        child.mark_ended("stopped", f"forked from {parent.id} ({which} checkpoint); not trained yet")
    return child


def link_or_copy(source: Path, dest: Path) -> None:
    """dest as a hard link to source; a copy (written aside, then renamed) across file systems."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, dest)
        return
    except OSError:
        pass
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")  # checkpoint.TMP_GLOB: a killed copy is cleaned up
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def start_fork(store: RunStore, parent_ref: str, which: str = "last", overrides: list[str] | tuple = (),
               name: str | None = None) -> Run:
    """Fork and train the child in the background (the TUI's `f`, `workbench fork --bg`). The trainer
    refuses a max_steps the fork's step has reached (the child ends failed, saying so)."""
    from workbench.launch import resume_run

    parent = store.resolve(parent_ref)
    parent_checkpoint(parent, which)
    cfg = fork_config(parent, overrides, name, which)
    child = create_fork(store, parent, which, cfg, overrides)
    resume_run(store, child)
    return child


def pending(run: Run) -> dict | None:
    """run.json's forked_from while the fork's trainer has not yet read the parent's checkpoint."""
    f = run.raw_info().forked_from
    return f if f is not None and f.get("step") is None else None


def parent_of(run: Run, info: RunInfo) -> tuple[Run, int] | None:
    """A fork's parent run (in the same store) and the fork step, or None: not a fork, the step not
    known yet, or a forked_from that names no run folder here (run.json is untrusted: the id is
    checked as any id before it becomes a path)."""
    f = info.forked_from
    if not f or not isinstance(f.get("step"), int) or run_id_problem(f.get("run")) is not None:
        return None
    parent = Run(run.path.parent / f["run"])
    return (parent, f["step"]) if parent.path.is_dir() and parent.path != run.path else None
