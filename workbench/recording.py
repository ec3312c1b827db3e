"""The recording API: the one way a run is written into the store.

    import workbench
    run = workbench.init(config={"lr": 3e-4}, name="my-exp", runs_dir="runs", tags=["baseline"])
    for step in range(1000):
        ...
        workbench.log({"train/loss": loss, "lr": lr}, step=step)      # tokens= optional
        workbench.log_text("sample", text, step=step)
    workbench.finish()

`log` converts the values to floats and queues them (a few microseconds); the
metrics writer's thread commits them about once a second. Well-known names (loss,
val_loss, lr, …) are stored under the workbench keys (keys.ALIASES), so the
dashboard's loss chart and the run summary work. Nothing here imports torch or
Textual.

A `Recorder` is a run handle: `workbench.init` makes one for a script (with exit
hooks: see exit_hooks.py), and a caller that already created the run folder makes one
directly: the built-in trainer (it is the trainer's sink, see sink.py) and the runner
of `workbench run -- CMD`. So every run is recorded through this one class.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from workbench.free_config import dict_to_toml
from workbench.keys import store_key
from workbench.run_info import ENDED
from workbench.sink import NullSink
from workbench.store import Run, RunStore, write_text_atomic


class Recorder:
    """Writes one run: scalars, text samples, events, telemetry; then its end in run.json."""

    def __init__(self, run: Run, flush_interval: float = 1.0, owns_end: bool = True):
        self.run = run
        self.owns_end = owns_end  # False: another process (a command's runner) writes the run's end
        self.id = run.id
        self.path = run.path
        self.writer = run.writer(flush_interval)
        self._put = self.writer.put
        self.step = 0  # the last step logged
        self.tokens = 0
        self._next_step = 0
        self._keys: dict[str, str] = {}
        self._samplers: list = []
        self.status: str | None = None  # set by finish()

    # --- what a training loop calls
    def log(self, values: dict[str, Any], step: int | None = None, tokens: int | None = None) -> None:
        """Record scalars at `step` (default: one after the last logged step). Values that are
        not numbers (strings, lists) are left out; tensors are read with float()."""
        step = self._next_step if step is None else int(step)
        self._next_step = step + 1
        self.step = step
        if tokens is not None:
            self.tokens = int(tokens)
        t, tokens, keys = time.time(), self.tokens, self._keys
        rows = []
        for name, value in values.items():
            key = keys.get(name)
            if key is None:
                key = keys[name] = store_key(str(name))
            try:
                rows.append((step, tokens, t, key, float(value)))
            except (TypeError, ValueError):
                continue
        if rows:
            self._put("scalars", rows)

    def log_text(self, key: str, text: str, step: int | None = None) -> None:
        """A text sample (what the dashboard's sample pane shows); `key` is kept as its prompt."""
        self.sample(str(key), str(text), self.step if step is None else step)

    def sample(self, prompt: str, text: str, step: int, tokens: int | None = None) -> None:
        self.writer.sample(step, self.tokens if tokens is None else tokens, prompt, text)

    def event(self, kind: str, message: str, step: int | None = None) -> None:
        self.writer.event(kind, message, step=self.step if step is None else step)

    def telemetry(self, values: dict[str, float]) -> None:
        self.writer.telemetry(values, step=self.step)

    def start_telemetry(self, interval: float, root_pid: int | None = None) -> None:
        """Sample CPU, RSS and the GPUs of a process tree (default: this process) every
        `interval` seconds into the run's telemetry."""
        from workbench.process_telemetry import ProcessTreeSampler

        sampler = ProcessTreeSampler(self.writer.telemetry, interval, root_pid or os.getpid())
        self._samplers.append(sampler.start())

    def truncate_after(self, step: int) -> None:
        """On resume: forget what was recorded after the checkpoint's step."""
        self.writer.truncate_after(step)
        self.step = self._next_step = step

    def flush(self) -> None:
        """Commit what is queued now (the trainer does before each checkpoint)."""
        self.writer.flush()

    # --- the end
    def close(self) -> None:
        """Stop sampling and commit what is queued; raises when it cannot be written (disk full)."""
        for sampler in self._samplers:
            sampler.stop()
        self.writer.close()

    def finish(self, status: str = "finished", reason: str = "") -> str:
        """Close, then write the end into run.json. Idempotent: the first call wins. A run whose
        metrics could not be written ends failed, saying why."""
        if self.status is not None:
            return self.status
        assert status in ENDED, status
        try:
            self.close()
        except Exception as e:  # noqa: BLE001 - e.g. sqlite3.OperationalError: database or disk is full
            status, reason = "failed", f"{type(e).__name__}: {e} while writing {self.run.db_path.name}"
        self.status = status
        if self.owns_end:
            self.run.mark_ended(status, reason)
        return status


class Unrecorded(NullSink):
    """What init returns on a torchrun rank other than 0: every call does nothing, since
    rank 0 records the run (as the built-in trainer does under torchrun)."""

    id = path = status = None
    step = tokens = 0

    def log_text(self, key: str, text: str, step: int | None = None) -> None:
        pass

    def finish(self, status: str = "finished", reason: str = "") -> str:
        return ""


# ---------------------------------------------------------------- the module-level API

_current: Recorder | Unrecorded | None = None


def default_name() -> str:
    """The script's file name without .py, like an experiment file's name."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else ""
    return Path(argv0).stem or "script"


def init(config: dict[str, Any] | None = None, name: str | None = None, runs_dir: str | Path | None = None,
         tags: list[str] | None = None, telemetry_interval: float = 1.0,
         exit_hooks: bool = True) -> Recorder | Unrecorded:
    """Create a run folder for this script and make it the current run (under torchrun,
    on rank 0 only: the other ranks get an `Unrecorded` whose calls do nothing; under
    `workbench run -- CMD`, the command's run: see `attach`).

    runs_dir defaults to $WORKBENCH_RUNS_DIR or ./runs. With `exit_hooks` (the default) the
    run ends by itself when the script does: finished on a normal exit, failed on an
    uncaught exception, stopped on SIGTERM or Ctrl-C (exit_hooks.py)."""
    global _current
    if _current is not None and _current.status is None:
        _current.finish()
    if os.environ.get("RANK", "0") != "0":  # torchrun sets RANK in every process it starts
        _current = Unrecorded()
        return _current
    if os.environ.get(COMMAND_RUN_ENV):
        _current = rec = attach(Path(os.environ[COMMAND_RUN_ENV]), config)
        if exit_hooks:
            from workbench import exit_hooks as hooks

            hooks.install(rec)
        return rec
    store = RunStore(runs_dir or os.environ.get("WORKBENCH_RUNS_DIR", "runs"))
    name = name or default_name()
    run_id = store.new_run_id(name)
    run = store.create_free_run(run_id, dict(config or {}), kind="script", name=name,
                                tags=[str(t) for t in (tags or [])], argv=list(sys.argv), cwd=os.getcwd())
    run.mark_running()
    pid = os.getpid()
    if os.getpgid(pid) != pid:
        # not a process group leader: `workbench stop` must signal this process, not the
        # shell's job it belongs to (a pipe's other end)
        run.update_info(pgid=None)
    rec = Recorder(run)
    rec.event("start", f"{name}: recording {' '.join(sys.argv)[:200]}", step=0)
    if telemetry_interval:
        rec.start_telemetry(telemetry_interval)
    if exit_hooks:
        from workbench import exit_hooks as hooks

        hooks.install(rec)
    _current = rec
    return rec


COMMAND_RUN_ENV = "WORKBENCH_COMMAND_RUN"  # set by `workbench run -- CMD` for its command: the run folder


def attach(path: Path, config: dict[str, Any] | None) -> Recorder:
    """A script started by `workbench run -- CMD` records into that command's run rather than a
    run of its own: its config becomes the [script] table of config.toml, its values go beside
    the ones read from its output. The runner keeps the rest: the run's end (from the
    command's exit code), its telemetry, run.json."""
    run = Run(path)
    values = run.config_values()
    values["script"] = dict(config or {})
    write_text_atomic(run.config_path, dict_to_toml(values))
    rec = Recorder(run, owns_end=False)
    rec.event("script", f"{default_name()} records through workbench.init", step=0)
    return rec


def current() -> Recorder:
    if _current is None:
        raise RuntimeError("no run: call workbench.init() first")
    return _current


def log(values: dict[str, Any], step: int | None = None, tokens: int | None = None) -> None:
    rec = _current  # not current(): this is the hot path
    if rec is None:
        raise RuntimeError("no run: call workbench.init() first")
    rec.log(values, step, tokens)


def log_text(key: str, text: str, step: int | None = None) -> None:
    current().log_text(key, text, step=step)


def finish(status: str = "finished", reason: str = "") -> str:
    """End the current run (finished unless told otherwise); later calls do nothing."""
    global _current
    if _current is None:
        return ""
    rec, _current = _current, None
    return rec.finish(status, reason)
