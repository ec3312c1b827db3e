"""Sweeps: an Optuna study whose trials are queued runs.

    runs/.sweeps/<sweep-id>/
      sweep.json    experiment file, frozen base config, the [sweep] spec, state, times
      journal.log   the study, in Optuna's journal file storage: no server, survives restarts
      lock          flock'ed while one process moves the sweep on

`create` makes the study and queues the first trial; the scheduler then calls
`advance` each tick: it tells Optuna the result of every trial whose run ended (the
metric's last value; pruned; failed) and asks for the next trial while the sweep has
trials to go, so TPE always learns from every result so far. A grid's points are
queued in the order the file lists them. A trial is a run whose config records the
sweep id and trial number (experiment.sweep, experiment.trial); while it trains,
`Pruning` reports the metric at each evaluation and says when to stop.
No torch and no Textual here.
"""

from __future__ import annotations

import fcntl
import json
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from workbench.config import Config, config_to_toml, from_dict, tomllib
from workbench.errors import WorkbenchError
from workbench.queue import Queue
from workbench.store import Run, RunStore, run_id_problem, write_json_atomic
from workbench.sweep_config import Range, SweepSpec, check_sweep, load_sweep, trial_config

SWEEPS_DIR = ".sweeps"
STATES = ("active", "stopped", "finished")
optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass
class SweepInfo:
    id: str
    experiment: str
    experiment_file: str
    base_config: str  # TOML
    spec: dict
    state: str = "active"
    reason: str = ""
    created: float = 0.0
    ended: float | None = None

    def sweep_spec(self) -> SweepSpec:
        d = dict(self.spec)
        d["space"] = {k: {"low": v["low"], "high": v["high"], "log": v["log"]} if isinstance(v, dict) else v
                      for k, v in d["space"]}
        return check_sweep(f"sweep {self.id}", d)

    def base(self) -> Config:
        return from_dict(tomllib.loads(self.base_config), where=f"sweep {self.id}")


@dataclass
class TrialRow:
    number: int
    params: dict[str, Any]
    status: str  # queued, running, or the run's end (finished, pruned, failed, …), or removed
    value: float | None = None
    run_id: str = ""
    entry_id: int | None = None
    best: bool = False
    extra: dict = field(default_factory=dict)


def sweeps_root(store: RunStore) -> Path:
    return store.root / SWEEPS_DIR


def sweep_path(store: RunStore, sweep_id: str) -> Path:
    if run_id_problem(sweep_id):
        raise WorkbenchError(f"{sweep_id!r} is not a sweep id; `workbench sweep show` names the latest")
    return sweeps_root(store) / sweep_id


def read_info(store: RunStore, sweep_id: str) -> SweepInfo:
    path = sweep_path(store, sweep_id) / "sweep.json"
    try:
        d = json.loads(path.read_text())
        return SweepInfo(**{k: d[k] for k in SweepInfo.__dataclass_fields__ if k in d})
    except (OSError, ValueError, TypeError) as e:
        raise WorkbenchError(f"no readable sweep {sweep_id} in {sweeps_root(store)}/ ({e})") from None


def write_info(store: RunStore, info: SweepInfo) -> None:
    write_json_atomic(sweep_path(store, info.id) / "sweep.json", asdict(info))


def list_sweeps(store: RunStore) -> list[SweepInfo]:
    """Every readable sweep, newest first."""
    root = sweeps_root(store)
    out = []
    for p in root.iterdir() if root.is_dir() else []:
        try:
            out.append(read_info(store, p.name))
        except WorkbenchError:
            continue
    return sorted(out, key=lambda i: (i.created, i.id), reverse=True)


def active_sweeps(store: RunStore) -> list[str]:
    return [i.id for i in list_sweeps(store) if i.state == "active"]


def resolve(store: RunStore, ref: str | None) -> SweepInfo:
    """A sweep by id or unique prefix; the newest when `ref` is None."""
    sweeps = list_sweeps(store)
    if ref is None:
        if not sweeps:
            raise WorkbenchError(f"no sweeps in {store.root}/; start one with `workbench sweep X.toml`")
        return sweeps[0]
    matches = [s for s in sweeps if s.id == ref] or [s for s in sweeps if s.id.startswith(ref)]
    if len(matches) != 1:
        raise WorkbenchError(f"{ref!r} matches {len(matches)} sweeps; `workbench sweep ls` lists them")
    return matches[0]


# ---------------------------------------------------------------- the study


def _storage(store: RunStore, sweep_id: str) -> JournalStorage:
    return JournalStorage(JournalFileBackend(str(sweep_path(store, sweep_id) / "journal.log")))


def _sampler(spec: SweepSpec) -> optuna.samplers.BaseSampler:
    if spec.method == "tpe":
        return optuna.samplers.TPESampler(seed=spec.seed)
    return optuna.samplers.RandomSampler(seed=spec.seed)  # grid: every trial's values are enqueued


def _pruner(spec: SweepSpec, max_steps: int) -> optuna.pruners.BasePruner:
    if spec.prune == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=spec.startup_trials, n_warmup_steps=0)
    if spec.prune == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_steps or "auto")
    return optuna.pruners.NopPruner()


def load_study(store: RunStore, info: SweepInfo, storage: JournalStorage | None = None) -> optuna.Study:
    spec = info.sweep_spec()
    return optuna.load_study(study_name=info.id, storage=storage or _storage(store, info.id), sampler=_sampler(spec),
                             pruner=_pruner(spec, info.base().train.max_steps))


@contextmanager
def _locked(store: RunStore, sweep_id: str):
    with open(sweep_path(store, sweep_id) / "lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def create(store: RunStore, experiment_file: str, overrides: list | tuple = ()) -> SweepInfo:
    """A new sweep from an experiment file with a [sweep] table; its first trial is queued."""
    from workbench.config_checks import check_data_files

    cfg, spec = load_sweep(experiment_file, overrides)
    check_data_files(cfg, experiment_file)
    sweep_id = RunStore(sweeps_root(store)).new_run_id(cfg.experiment.name)  # reserves the folder
    info = SweepInfo(id=sweep_id, experiment=cfg.experiment.name, experiment_file=str(experiment_file),
                     base_config=config_to_toml(cfg), spec=spec.to_dict(), created=time.time())
    write_info(store, info)
    study = optuna.create_study(study_name=sweep_id, storage=_storage(store, sweep_id), sampler=_sampler(spec),
                                pruner=_pruner(spec, cfg.train.max_steps),
                                direction="minimize" if spec.goal == "minimize" else "maximize")
    if spec.method == "grid":
        for params in spec.grid()[:spec.total_trials()]:
            study.enqueue_trial(params)
    advance(store, sweep_id)
    return info


def _suggest(trial: optuna.Trial, spec: SweepSpec) -> dict[str, Any]:
    params = {}
    for dotted, space in spec.space.items():
        if isinstance(space, Range):
            suggest = trial.suggest_int if space.integer else trial.suggest_float
            params[dotted] = suggest(dotted, space.low, space.high, log=space.log)
        else:
            params[dotted] = trial.suggest_categorical(dotted, space)
    return params


def _queue_trial(store: RunStore, info: SweepInfo, number: int, params: dict[str, Any]) -> None:
    cfg = trial_config(info.base(), params, where=f"sweep {info.id} trial {number}")
    cfg.experiment.sweep, cfg.experiment.trial = info.id, number
    shown = [f"{k}={v}" for k, v in params.items()]
    Queue(store).add(cfg, info.experiment_file, shown, name=f"{info.experiment}-t{number}",
                     sweep=info.id, trial=number)


def _result(store: RunStore, run_id: str, metric: str) -> tuple[TrialState, float | None]:
    """How a trial's run ended, for Optuna: its metric's last value when it finished."""
    if run_id_problem(run_id):
        return TrialState.FAIL, None
    run = store.run(run_id)
    status = run.info().status
    if status == "pruned":
        return TrialState.PRUNED, None
    if status != "finished":
        return TrialState.FAIL, None
    value = _last_value(run, metric)
    return (TrialState.COMPLETE, value) if value is not None else (TrialState.FAIL, None)


def _last_value(run: Run, metric: str) -> float | None:
    """The run's latest value of `metric`, or None."""
    reader = run.reader()
    try:
        last = reader.last(metric)
    finally:
        reader.close()
    return last.value if last else None


def advance(store: RunStore, sweep_id: str) -> None:
    """Tell Optuna the trials that ended; queue the next one. Safe to call from any process."""
    with _locked(store, sweep_id):
        info = read_info(store, sweep_id)
        if info.state != "active":
            return
        spec = info.sweep_spec()
        study = load_study(store, info)
        queue = Queue(store)
        entries = {e.trial: e for e in queue.entries(("waiting", "running", "done", "removed"), sweep=sweep_id)}
        trials = study.get_trials(deepcopy=False)
        for t in trials:
            if t.state != TrialState.RUNNING:
                continue
            e = entries.get(t.number)
            if e is None:  # asked, but the process died before queuing it
                _queue_trial(store, info, t.number, t.params)
            elif e.state == "removed":
                study.tell(t.number, state=TrialState.FAIL)
            elif e.state == "done":
                state, value = _result(store, e.run_id, spec.metric)
                study.tell(t.number, value if state == TrialState.COMPLETE else None, state=state)
        waiting = sum(1 for e in entries.values() if e.state == "waiting")
        asked = sum(1 for t in trials if t.state != TrialState.WAITING)  # WAITING: a grid point not asked yet
        if waiting == 0 and asked < spec.total_trials():
            trial = study.ask()
            try:
                _queue_trial(store, info, trial.number, _suggest(trial, spec))
            except WorkbenchError as e:  # a sampled combination the config rejects
                study.tell(trial.number, state=TrialState.FAIL)
                raise WorkbenchError(f"trial {trial.number}: {e}") from None
            asked += 1
        unfinished = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.RUNNING]
        if asked >= spec.total_trials() and not unfinished:
            info.state, info.ended = "finished", time.time()
            write_info(store, info)


def stop(store: RunStore, sweep_id: str) -> list[str]:
    """Stop a sweep: no more trials, waiting ones off the queue, running ones stopped. Their run ids."""
    from workbench.launch import stop_run

    with _locked(store, sweep_id):
        info = read_info(store, sweep_id)
        if info.state != "active":
            raise WorkbenchError(f"sweep {sweep_id} is {info.state}, not active")
        info.state, info.reason, info.ended = "stopped", "stopped by the user", time.time()
        write_info(store, info)
        queue = Queue(store)
        queue.remove_waiting(sweep_id)
        running = [e.run_id for e in queue.entries(("running",), sweep=sweep_id)]
    stopped = []
    for run_id in running:
        try:
            stop_run(store.run(run_id))
            stopped.append(run_id)
        except WorkbenchError:
            pass  # it ended meanwhile
    study = load_study(store, info)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):  # WAITING: grid points never asked
        study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
    return stopped


# ---------------------------------------------------------------- reading a sweep


def trial_rows(store: RunStore, info: SweepInfo) -> list[TrialRow]:
    """One row per trial asked so far, with its run, status and metric; the best one marked."""
    spec = info.sweep_spec()
    study = load_study(store, info)
    entries = {e.trial: e for e in Queue(store).entries(("waiting", "running", "done", "removed"),
                                                        sweep=info.id)}
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.WAITING:
            continue  # an enqueued grid point not asked for yet
        e = entries.get(t.number)
        row = TrialRow(t.number, dict(t.params), t.state.name.lower(), t.value,
                       run_id=e.run_id if e else "", entry_id=e.id if e else None)
        if e is not None and e.state in ("waiting", "running", "removed"):
            row.status = {"waiting": "queued"}.get(e.state, e.state)
        elif e is not None and not run_id_problem(e.run_id):
            row.status = store.run(e.run_id).info().status
        if row.status == "running" and not run_id_problem(row.run_id):
            row.value = _last_value(store.run(row.run_id), spec.metric)
        rows.append(row)
    done = [r for r in rows if r.status == "finished" and r.value is not None]
    if done:
        pick = min if spec.goal == "minimize" else max
        pick(done, key=lambda r: r.value).best = True
    return rows


# ---------------------------------------------------------------- inside a trial's run


class Pruning:
    """A trial's line to its study while it trains: the trainer reports the sweep's metric at
    each evaluation and ends the run as 'pruned' when the pruner says so."""

    def __init__(self, trial: optuna.Trial, metric: str):
        self.trial, self.metric = trial, metric

    @classmethod
    def for_run(cls, cfg: Config, run_path: Path) -> Pruning | None:
        """None unless the run is a trial of a sweep that prunes."""
        if not cfg.experiment.sweep or cfg.experiment.trial < 0:
            return None
        store = RunStore(Path(run_path).parent)
        info = read_info(store, cfg.experiment.sweep)
        spec = info.sweep_spec()
        if spec.prune == "none":
            return None
        storage = _storage(store, info.id)
        study = load_study(store, info, storage)
        trial_id = storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(info.id),
                                                                   cfg.experiment.trial)
        return cls(optuna.trial.Trial(study, trial_id), spec.metric)

    def should_stop(self, step: int, values: dict[str, float]) -> bool:
        if self.metric not in values:
            return False
        try:
            self.trial.report(values[self.metric], step)
            return self.trial.should_prune()
        except (RuntimeError, ValueError):  # the trial was ended from outside (a stopped sweep)
            return False
