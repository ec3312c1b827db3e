"""The common subset of the W&B API, recording into the workbench run store.

    import workbench.compat.wandb as wandb
    wandb.init(project="shakespeare", name="baseline", config={"lr": 3e-4})
    wandb.config.batch_size = 64          # attribute or dict access, update()
    wandb.log({"loss": 2.1, "lr": 3e-4})  # step counts on by itself, or step=N, commit=False
    wandb.summary["best_val"] = 1.47
    wandb.finish()

Covered: init (project, name, config, tags, dir, group, notes, plus any keyword it
ignores), config, log (numbers; nested dicts become "a/b" keys), summary, finish
(exit_code), run. Not covered: media and tables (wandb.Image, Table, Histogram…),
watch, save, artifacts, define_metric, alert, sweeps, login and the W&B server: calling
them raises AttributeError. Runs go to $WORKBENCH_RUNS_DIR or ./runs (init's `dir` is
used as the parent of runs/ when given).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from workbench import recording
from workbench.config import flatten
from workbench.free_config import dict_to_toml
from workbench.store import write_text_atomic


class Config(MutableMapping):
    """wandb.config: a dict with attribute access; every change is saved to the run's config.toml."""

    def __init__(self, values: dict | None = None, rec: recording.Recorder | None = None):
        object.__setattr__(self, "_values", dict(values or {}))
        object.__setattr__(self, "_rec", rec)

    def _save(self) -> None:
        if self._rec is not None:
            write_text_atomic(self._rec.run.config_path, dict_to_toml(self._values))

    def update(self, d: Any = None, allow_val_change: bool = True, **kwargs: Any) -> None:
        if d is not None and not isinstance(d, dict):
            d = vars(d)  # an argparse.Namespace, as W&B accepts
        self._values.update(d or {}, **kwargs)
        self._save()

    def as_dict(self) -> dict:
        return dict(self._values)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._values[key] = value
        self._save()

    def __delitem__(self, key: str) -> None:
        del self._values[key]
        self._save()

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __repr__(self) -> str:
        return f"Config({self._values!r})"


class Summary(MutableMapping):
    """wandb.summary: the last logged value of each key, unless set by hand. Values set by
    hand are recorded as scalars `summary/<key>` at the current step."""

    def __init__(self, wrun: Run | None = None):
        self._run = wrun
        self._set: dict[str, Any] = {}

    def _all(self) -> dict[str, Any]:
        return {**(self._run._last if self._run else {}), **self._set}

    def __getitem__(self, key: str) -> Any:
        return self._all()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._set[key] = value
        if self._run is not None:
            self._run._rec.log({f"summary/{key}": value}, step=self._run._rec.step)

    def __delitem__(self, key: str) -> None:
        del self._set[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def update(self, d: Any = None, **kwargs: Any) -> None:
        for k, v in {**(d or {}), **kwargs}.items():
            self[k] = v


class Run:
    """What wandb.init returns: log, finish, config, summary, name, id, dir."""

    def __init__(self, rec: recording.Recorder, config: Config):
        self._rec = rec
        self._step = 0
        self._last: dict[str, Any] = {}
        self.config = config
        self.summary = Summary(self)
        self.id = self.name = rec.id
        self.dir = str(rec.path or "")

    @property
    def step(self) -> int:
        return self._step

    def log(self, data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        """At `step` when given (it becomes the current step), else at the current step,
        which then moves on unless commit=False (as W&B counts steps)."""
        values = flatten(data, sep="/")
        if step is not None:
            self._step = int(step)
        self._rec.log(values, step=self._step)
        self._last.update(values)
        if step is None and commit is not False:
            self._step += 1

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        if exit_code:
            self._rec.finish("failed", f"finished with exit code {exit_code}")
        else:
            self._rec.finish()


# module state: what `wandb.run`, `wandb.config` and `wandb.summary` are right now
run: Run | None = None
config: Config = Config()
summary: Summary = Summary()


def init(project: str | None = None, name: str | None = None, config: Any = None,  # noqa: A002
         tags: list[str] | None = None, dir: str | None = None, group: str | None = None,  # noqa: A002
         notes: str | None = None, **ignored: Any) -> Run:
    global run, summary
    mod = globals()
    values = dict(mod["config"])  # what was set on wandb.config before init
    if config is not None:
        values.update(config if isinstance(config, dict) else vars(config))
    runs_dir = Path(dir) / "runs" if dir else None
    labels = list(tags or []) + [f"{k}:{v}" for k, v in (("project", project), ("group", group)) if v]
    rec = recording.init(config=values, name=name or project, runs_dir=runs_dir, tags=labels)
    if notes:
        rec.event("notes", str(notes))
    cfg = Config(values, rec if isinstance(rec, recording.Recorder) else None)  # None: a rank > 0
    run = Run(rec, cfg)
    mod["config"], summary = cfg, run.summary
    return run


def log(data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    if run is None:
        raise RuntimeError("wandb.log before wandb.init: call wandb.init() first")
    run.log(data, step=step, commit=commit)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    global run, summary
    if run is not None:
        run.finish(exit_code)
    run = None
    globals()["config"] = Config()
    summary = Summary()


__all__ = ["init", "log", "finish", "config", "summary", "run", "Config", "Summary", "Run"]
