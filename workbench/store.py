"""The run store: runs/<run-id>/ folders, the one contract between trainer and viewers.

    runs/<run-id>/
      config.toml        resolved config, runnable as is
      run.json           status, pid, host, times, experiment chain, versions, summary
      metrics.sqlite     scalars, telemetry, samples, events (see metrics.py)
      checkpoints/       last.pt, best.pt
      train.log          the trainer's stdout and stderr

No torch and no Textual here: the viewers import this and must start at once.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from workbench import keys, run_lock
from workbench.config import Config, config_to_toml, from_dict, load_config, read_toml
from workbench.errors import WorkbenchError
from workbench.free_config import dict_to_toml
from workbench.metrics import MetricsReader, MetricsWriter
from workbench.run_info import ENDED, SCHEMA_VERSION, RunInfo, boot_id, process_start_time

STARTING_S = 60.0  # a run folder without run.json this young is being created, not crashed
SAFE = re.compile(r"[^A-Za-z0-9._-]+")
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
RUN_ID_MAX = 200


def run_id_problem(run_id: object) -> str | None:
    """Why `run_id` cannot name a run folder, or None if it can. The one rule for ids, wherever they
    are read (arguments, prefixes, the TUI, archives) or made: letters, digits, '.', '_' and '-',
    starting with a letter or digit, no '..', at most 200 characters. So an id is never a path."""
    if not isinstance(run_id, str) or not run_id:
        return "a run id is a non-empty string"
    if len(run_id) > RUN_ID_MAX:
        return f"a run id has at most {RUN_ID_MAX} characters"
    if not RUN_ID.fullmatch(run_id):
        return "a run id uses only letters, digits, '.', '_' and '-', and starts with a letter or digit"
    if ".." in run_id:
        return "a run id may not contain '..'"
    return None


def check_run_id(run_id: object) -> str:
    """`run_id` if it is a valid run id; WorkbenchError naming the rule otherwise."""
    problem = run_id_problem(run_id)
    if problem:
        raise WorkbenchError(f"{str(run_id)[:80]!r} is not a valid run id: {problem}")
    return run_id  # type: ignore[return-value]


def write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def git_state(folder: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git repo holding `folder`, or (None, None)."""
    try:
        commit = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5)
        if commit.returncode != 0:
            return None, None
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
        return commit.stdout.strip(), bool(dirty.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        return None, None


class Run:
    """One run folder. Cheap to make; reads nothing until asked."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.id = self.path.name
        self.config_path = self.path / "config.toml"
        self.info_path = self.path / "run.json"
        self.db_path = self.path / "metrics.sqlite"
        self.log_path = self.path / "train.log"
        self.profile_path = self.path / "profile.json"
        self._info_lock = threading.Lock()

    @property
    def checkpoints_dir(self) -> Path:
        d = self.path / "checkpoints"
        d.mkdir(exist_ok=True)
        return d

    # --- run.json
    def raw_info(self) -> RunInfo:
        """run.json as it is. The id is always the folder name, never what the file says."""
        problem = run_id_problem(self.id)
        if problem:
            return RunInfo.damaged(self.id, f"the folder name is not a valid run id ({problem})")
        try:
            text = self.info_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return self._without_info()
        except (OSError, UnicodeDecodeError) as e:
            return RunInfo.damaged(self.id, f"run.json cannot be read ({e})")
        return RunInfo.parse(text, self.id)

    def _without_info(self) -> RunInfo:
        """A folder without run.json: a launcher has just reserved it (for a moment it is
        'running', starting), or it was left so."""
        try:
            made = self.path.stat().st_mtime
        except OSError:
            made = 0.0
        if time.time() - made < STARTING_S:
            return RunInfo(id=self.id, status="running", reason="starting", started=made)
        return RunInfo(id=self.id, status="crashed", reason="run.json is missing")

    def info(self) -> RunInfo:
        """run.json with liveness applied: 'running' whose trainer is gone reads as 'crashed'."""
        info = self.raw_info()
        if info.status == "running" and not self.is_alive(info):
            # the trainer writes its end into run.json before it lets go of the lock: read again,
            # or a run that finished between the two reads would be called crashed
            info = self.raw_info()
            if info.status != "running":
                return info
            info.status = "crashed"
            info.reason = info.reason or "the trainer process is gone; see train.log"
        return info

    def is_alive(self, info: RunInfo) -> bool:
        """Exact where the run has a trainer lock: a trainer holds it while it lives. Runs
        without one (older runs, workbench.init scripts) fall back to the pid check."""
        held = run_lock.is_held(self.path)
        if held is not None:
            return held
        if not self.info_path.exists():
            return True  # _without_info() said starting
        return info.is_alive()

    def lock(self) -> run_lock.RunLock:
        """The run's trainer lock (not taken yet): see run_lock.py."""
        return run_lock.RunLock(self.path, self.id)

    def write_info(self, info: RunInfo) -> None:
        with self._info_lock:
            write_json_atomic(self.info_path, asdict(info))

    def update_info(self, **changes: Any) -> RunInfo:
        with self._info_lock:
            info = self.raw_info() if self.info_path.exists() else RunInfo(id=self.id)
            if info.status == "damaged":  # never write over what someone may want to look at
                raise WorkbenchError(f"{self.id} is damaged: {info.reason}")
            for k, v in changes.items():
                if not hasattr(info, k):
                    raise AttributeError(f"run.json has no field {k!r}")
                setattr(info, k, v)
            write_json_atomic(self.info_path, asdict(info))
            return info

    def mark_running(self) -> RunInfo:
        pid = os.getpid()
        return self.update_info(status="running", reason="", ended=None, pid=pid, pgid=os.getpgid(pid),
                                pid_start_time=process_start_time(pid), hostname=socket.gethostname(),
                                boot_id=boot_id())

    def mark_ended(self, status: str, reason: str = "", ended: float | None = None) -> RunInfo:
        """Close the metrics writer first, so the summary kept in run.json is complete."""
        assert status in ENDED, status
        self.update_info(ended=time.time() if ended is None else ended)
        return self.update_info(status=status, reason=reason, summary=self.summary(), resumed_from=None)

    def mark_resuming(self, pid: int, overrides: list[str] | tuple = ()) -> RunInfo:
        """A resume begins (the caller holds the lock): running, with what the run was before
        kept in resumed_from, so a resume that fails to start can put it back."""
        before = self.raw_info()
        if before.status == "running":  # we hold the lock: its trainer is gone
            before.status, before.reason = "crashed", before.reason or "the trainer process is gone"
        was = {"status": before.status, "reason": before.reason, "ended": before.ended}
        return self.update_info(status="running", reason="", ended=None, pid=pid, pgid=os.getpgid(pid),
                                pid_start_time=process_start_time(pid), hostname=socket.gethostname(),
                                boot_id=boot_id(), resumed_from=was,
                                overrides=[*before.overrides, *overrides])

    def undo_resuming(self) -> RunInfo:
        """A resume that did not start: the run's status as it was before (see mark_resuming)."""
        was = self.raw_info().resumed_from or {}
        return self.update_info(status=was.get("status", "stopped"), reason=was.get("reason", ""),
                                ended=was.get("ended"), resumed_from=None)

    def write_config(self, cfg: Config) -> None:
        """The frozen config, replaced atomically (a resume that extends the run)."""
        write_text_atomic(self.config_path, config_to_toml(cfg))

    def cached_summary(self, info: RunInfo) -> dict[str, Any]:
        """The summary saved when the run ended, or a fresh one from the store if it goes on."""
        if info.status in ENDED and info.status != "crashed" and info.summary:  # crashed: never marked
            return info.summary
        return self.summary(info=info)

    def overview(self, info: RunInfo) -> tuple[RunInfo, dict[str, Any]]:
        """(info, summary) for a listing. A run whose metrics cannot be read comes back damaged,
        with the reason, so one bad run never takes a listing down."""
        if info.status == "damaged":
            return info, {}
        try:
            return info, self.cached_summary(info)
        except sqlite3.DatabaseError as e:
            return replace(info, status="damaged", reason=f"metrics.sqlite cannot be read ({e})"), {}

    @contextmanager
    def reading(self) -> Iterator[RunInfo]:
        """For a command that reads the whole run (show, compare): a damaged run is one clear line."""
        info = self.info()
        if info.status == "damaged":
            raise WorkbenchError(f"{self.id} is damaged: {info.reason}")
        try:
            yield info
        except sqlite3.DatabaseError as e:
            raise WorkbenchError(f"{self.id} is damaged: metrics.sqlite cannot be read ({e})") from None

    # --- contents
    def config(self) -> Config:
        """A trainer run's config, validated (older runs get today's defaults for new keys)."""
        return from_dict(read_toml(self.config_path), where=str(self.config_path))

    def config_values(self, info: RunInfo | None = None) -> dict[str, Any]:
        """What viewers show and diff: a trainer run's full Config as a dict, or the free-form
        config a script (workbench.init) or a command (`workbench run -- CMD`) recorded.
        `info`: run.json as the caller has already read it (for its kind)."""
        if (info or self.raw_info()).kind == "trainer":
            return self.config().to_dict()
        return read_toml(self.config_path)

    def writer(self, flush_interval: float = 1.0) -> MetricsWriter:
        return MetricsWriter(self.db_path, flush_interval)

    def reader(self) -> MetricsReader:
        return MetricsReader(self.db_path)

    def checkpoint(self, which: str = "last") -> Path:
        return self.path / "checkpoints" / f"{which}.pt"

    def log_tail(self, lines: int = 20) -> list[str]:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 16384))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return []
        # progress bars redraw with \r: keep what the terminal would show last
        return [ln.rsplit("\r", 1)[-1] for ln in text.splitlines()][-lines:]

    def summary(self, reader: MetricsReader | None = None, now: float | None = None,
                info: RunInfo | None = None) -> dict[str, Any]:
        """The run summary, derived from the store. The fields and what each means are
        workbench.keys.SUMMARY (a public contract); every viewer shows these figures.
        `info`: run.json as the caller has just read it (liveness applied), so it is not read again."""
        own = reader is None
        r = reader or self.reader()
        try:
            info = info or self.info()
            now = time.time() if now is None else now
            last_train, last_val = r.last(keys.TRAIN_LOSS), r.last(keys.EVAL_VAL_LOSS)
            tok_last, tok_mean = r.last(keys.TOK_PER_S), r.last(keys.TOK_PER_S_MEAN)
            mfu, train_time, eta = r.last(keys.MFU), r.last(keys.TRAIN_TIME_S), r.last(keys.ETA_S)
            steps = [s.step for s in (last_train, last_val) if s is not None]
            peak = r.telemetry_max(keys.TORCH_PEAK) or r.telemetry_max(keys.GPU_MEM_USED)
            if tok_mean is not None:
                tok_s = tok_mean.value
            else:  # recorded without the run's mean (a profile, an older run): the windows' mean
                tok_s = r.aggregate(keys.TOK_PER_S, "AVG")
            span = r.time_range()
            if info.started and (info.ended or info.status == "running"):
                wall = (info.ended or now) - info.started
            elif info.started and span:  # crashed: it ended with its last record, not now
                wall = max(span[1], info.started) - info.started
            else:
                wall = (span[1] - span[0]) if span else None
            running = info.status == "running" and not info.ended
            return {
                "best_val_loss": r.aggregate(keys.EVAL_VAL_LOSS, "MIN"),
                "final_train_loss": last_train.value if last_train else None,
                "final_val_loss": last_val.value if last_val else None,
                "tokens_per_sec": tok_s,
                "tokens_per_sec_last": tok_last.value if tok_last else None,
                "mfu": mfu.value if mfu else None,
                "peak_memory_bytes": int(peak) if peak else None,
                "train_time_s": train_time.value if train_time else None,
                "wall_time_s": wall,
                # counted down from when the trainer logged it, so every viewer shows the same
                "eta_s": max(0.0, eta.value - (now - eta.time)) if running and eta else None,
                "params": info.params,
                "step": max(steps) if steps else 0,
                "max_steps": info.max_steps,
            }
        finally:
            if own:
                r.close()


class RunStore:
    def __init__(self, root: str | Path = "runs"):
        self.root = Path(root)

    def ensure(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root

    def run(self, run_id: str) -> Run:
        """The run folder named `run_id`; WorkbenchError if that is not a valid id."""
        return Run(self.root / check_run_id(run_id))

    def new_run_id(self, experiment: str, now: float | None = None) -> str:
        """Reserve runs/<experiment>-<yyyymmdd-hhmmss>[-n] by creating it (mkdir is atomic)."""
        self.ensure()
        name = re.sub(r"-*\.{2,}-*", "-", SAFE.sub("-", experiment)).strip("-._")[:150] or "run"
        base = f"{name}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}"
        for n in range(1, 10_000):
            run_id = check_run_id(base if n == 1 else f"{base}-{n}")
            try:
                (self.root / run_id).mkdir()
                return run_id
            except FileExistsError:
                continue
        raise WorkbenchError(f"{self.root}: could not find a free run id for {base}")

    def create_run(self, run_id: str, cfg: Config, experiment_file: str | Path | None = None,
                   overrides: list[str] | tuple = ()) -> Run:
        """Fill a reserved (or new) run folder: the resolved config and run.json."""
        run = self.run(run_id)
        run.path.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run.config_path, config_to_toml(cfg))
        chain, parent = [], None
        commit, dirty = None, None
        if experiment_file:
            from workbench.config import extends_chain

            chain = [str(p) for p in extends_chain(experiment_file)]
            if len(chain) > 1:
                parent = load_config(chain[1]).to_dict()
            commit, dirty = git_state(Path(experiment_file).resolve().parent)
        run.update_info(id=run_id, experiment=cfg.experiment.name, tags=list(cfg.experiment.tags),
                        experiment_file=str(experiment_file or ""), extends_chain=chain,
                        overrides=list(overrides), parent_config=parent, git_commit=commit, git_dirty=dirty,
                        started=time.time(), max_steps=cfg.train.max_steps or None,
                        schema_version=SCHEMA_VERSION)
        run.mark_running()
        return run

    def create_free_run(self, run_id: str, config: dict[str, Any], kind: str, name: str,
                        folder: str | Path | None = None, **info: Any) -> Run:
        """Fill a reserved run folder for a script or a command: its config dict (any nesting,
        stored as TOML) and run.json, with the git commit of `folder` (default: the cwd)."""
        run = self.run(run_id)
        run.path.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run.config_path, dict_to_toml(config))
        commit, dirty = git_state(Path(folder or Path.cwd()).resolve())
        run.update_info(id=run_id, kind=kind, experiment=name, git_commit=commit, git_dirty=dirty,
                        started=time.time(), schema_version=SCHEMA_VERSION, **info)
        return run

    def runs(self) -> list[Run]:
        """Every run folder; hidden ones (an import being unpacked) are not runs yet."""
        if not self.root.is_dir():
            return []
        return [Run(p) for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]

    def scan(self, status: str | None = None, experiment: str | None = None) -> list[tuple[Run, RunInfo]]:
        """Every run with its info (liveness applied), newest first. A damaged run is a row too."""
        pairs = [(r, r.info()) for r in self.runs()]
        if status:
            pairs = [(r, i) for r, i in pairs if i.status == status]
        if experiment:
            pairs = [(r, i) for r, i in pairs if i.experiment == experiment]
        return sorted(pairs, key=lambda p: (p[1].started or 0, p[0].id), reverse=True)

    def list_runs(self, status: str | None = None, experiment: str | None = None) -> list[RunInfo]:
        """Every run's info with liveness applied, newest first."""
        return [info for _, info in self.scan(status, experiment)]

    def resolve(self, ref: str) -> Run:
        """A run by id or unique id prefix, as git does with commits; `runs/<id>` works too."""
        if "/" in ref:  # a path, as the shell completes it: only a folder right inside the store
            p = Path(ref)
            if p.resolve().parent != self.root.resolve():
                raise WorkbenchError(f"{ref!r} is not a run id or a run folder in {self.root}/; "
                                     f"`workbench ls` lists them")
            ref = p.name
        check_run_id(ref)
        exact = self.root / ref
        if exact.is_dir():
            return Run(exact)
        matches = sorted(r.id for r in self.runs() if r.id.startswith(ref))
        if len(matches) == 1:
            return self.run(matches[0])
        if not matches:
            raise WorkbenchError(f"no run matches {ref!r} in {self.root}/; `workbench ls` lists them")
        shown = "\n  ".join(matches[:20])
        raise WorkbenchError(f"{ref!r} is ambiguous; it matches:\n  {shown}")
