"""The [sweep] table of an experiment file: what to search, how, and what to optimize.

Checked as strictly as the rest of the config: every key in [sweep.space] must be a
config key, and every value must fit that key's type. Part of the config layer, so
no Optuna here; workbench/sweep.py turns a `SweepSpec` into a study.

    [sweep]
    method = "grid"          # grid | random | tpe
    metric = "eval/val_loss"
    [sweep.space]
    "train.lr" = [1e-3, 3e-3]                       # a list: these values
    "train.weight_decay" = {low = 0.0, high = 0.2}  # a range (log = true allowed)
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.config import (
    Config,
    _field_type,
    _suggest,
    all_keys,
    check_value,
    from_dict,
    key,
    key_table,
    load_config,
    read_toml,
    section_keys,
)
from workbench.errors import WorkbenchError

NOT_SWEPT = ("experiment",)  # names the run, changes no training


@dataclass
class Range:
    low: float
    high: float
    log: bool = False
    integer: bool = False


@dataclass
class SweepSpec:
    method: str = key("grid", "'grid' (every combination of the lists), 'random' or 'tpe' (Optuna's TPE).",
                      ("grid", "random", "tpe"))
    trials: int = key(0, "Trials to run; 0 means the whole grid (needed for random and tpe).")
    metric: str = key("eval/val_loss", "The metric a trial is judged by: its last value, as logged.")
    goal: str = key("minimize", "'minimize' or 'maximize' the metric.", ("minimize", "maximize"))
    prune: str = key("none", "Stop poor trials early: 'none', 'median' or 'hyperband' (at each evaluation).",
                     ("none", "median", "hyperband"))
    startup_trials: int = key(5, "Trials that finish before the median pruner starts pruning.")
    seed: int = key(0, "Seed of the random and TPE samplers.")
    space: dict = field(default_factory=dict)  # dotted key -> list of values or a Range

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of the lists, in the order the file gives them."""
        keys = list(self.space)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(self.space[k] for k in keys))]

    def total_trials(self) -> int:
        if self.method == "grid":
            return min(self.trials or math.inf, len(self.grid()))
        return self.trials

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        # pairs, not a table: the order is the grid's order, and JSON writers sort tables
        d["space"] = [[k, dataclasses.asdict(v) if isinstance(v, Range) else v] for k, v in self.space.items()]
        return d


def _check_space_entry(where: str, dotted: str, value: Any) -> list | Range:
    if dotted not in all_keys():
        raise WorkbenchError(f"{where}: [sweep.space] names '{dotted}', which is not a config key"
                             f"{_suggest(dotted, all_keys())}")
    section, name = dotted.split(".")
    if section in NOT_SWEPT:
        raise WorkbenchError(f"{where}: [sweep.space] '{dotted}' names the run; sweep training keys")
    f = section_keys(section)[name]
    if isinstance(value, list):
        if not value:
            raise WorkbenchError(f"{where}: [sweep.space] '{dotted}' is an empty list; give the values to try")
        return [check_value(where, dotted, f, v) for v in value]
    if not isinstance(value, dict):
        raise WorkbenchError(f"{where}: [sweep.space] '{dotted}' must be a list of values or a range "
                             "like {low = 0.0, high = 0.2}")
    t = _field_type(f)
    if t not in (int, float):
        raise WorkbenchError(f"{where}: [sweep.space] '{dotted}' is not a number; give a list of values")
    extra = set(value) - {"low", "high", "log"}
    if extra or not {"low", "high"} <= set(value):
        raise WorkbenchError(f"{where}: [sweep.space] '{dotted}' range takes low, high and optionally log; "
                             f"got {', '.join(sorted(value))}")
    low, high = (check_value(where, dotted, f, value[k]) for k in ("low", "high"))
    log = value.get("log", False)
    if not isinstance(log, bool):
        raise WorkbenchError(f"{where}: [sweep.space] '{dotted}'.log must be true or false")
    if not low < high:
        raise WorkbenchError(f"{where}: [sweep.space] '{dotted}' needs low < high; got {low} and {high}")
    if log and low <= 0:
        raise WorkbenchError(f"{where}: [sweep.space] '{dotted}' with log = true needs low > 0")
    return Range(low, high, log, integer=t is int)


def check_sweep(where: str, raw: Any) -> SweepSpec:
    """A [sweep] table, checked key by key like the other sections."""
    if not isinstance(raw, dict):
        raise WorkbenchError(f"{where}: 'sweep' must be a table like [sweep]")
    fields = {f.name: f for f in dataclasses.fields(SweepSpec) if f.name != "space"}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "space":
            continue
        if name not in fields:
            raise WorkbenchError(f"{where}: unknown key 'sweep.{name}'"
                                 f"{_suggest('sweep.' + name, ['sweep.' + k for k in [*fields, 'space']])}")
        values[name] = check_value(where, f"sweep.{name}", fields[name], value)
    space_raw = raw.get("space")
    if not isinstance(space_raw, dict) or not space_raw:
        raise WorkbenchError(f"{where}: a sweep needs a [sweep.space] table naming the keys to search, "
                             "like \"train.lr\" = [1e-3, 3e-3]")
    spec = SweepSpec(**values)
    spec.space = {k: _check_space_entry(where, k, v) for k, v in space_raw.items()}
    for name in ("trials", "startup_trials"):
        if getattr(spec, name) < 0:
            raise WorkbenchError(f"{where}: 'sweep.{name}' must not be negative")
    ranges = [k for k, v in spec.space.items() if isinstance(v, Range)]
    if spec.method == "grid" and ranges:
        raise WorkbenchError(f"{where}: a grid needs lists of values, but '{ranges[0]}' is a range; "
                             "give a list, or use method = \"random\" or \"tpe\"")
    if spec.method != "grid" and spec.trials == 0:
        raise WorkbenchError(f"{where}: method {spec.method!r} needs 'sweep.trials', the number of trials")
    return spec


def trial_config(base: Config, params: dict[str, Any], where: str = "sweep trial") -> Config:
    """The base config with one trial's values, validated like any run's config."""
    d = base.to_dict()
    for dotted, value in params.items():
        section, name = dotted.split(".")
        d[section][name] = value
    return from_dict(d, where=where)


def load_sweep(path: str | Path, overrides: list[str] | tuple = ()) -> tuple[Config, SweepSpec]:
    """The base config (file, extends, --set) and the file's own [sweep] table."""
    cfg = load_config(path, overrides)
    raw = read_toml(Path(path))
    if "sweep" not in raw:
        raise WorkbenchError(f"{path}: no [sweep] table; see the README's Sweeps section for an example")
    spec = check_sweep(str(path), raw["sweep"])
    if spec.method == "grid":  # every point is known now: a bad combination is an error now, not later
        for params in spec.grid()[:spec.total_trials()]:
            trial_config(cfg, params, where=f"{path} [sweep] point {params}")
    return cfg, spec


def reference_markdown() -> str:
    lines = key_table("sweep", [f for f in dataclasses.fields(SweepSpec) if f.name != "space"],
                      show_str=lambda s: f'"{s}"')
    lines.append("| `space` | | A table of config keys to search: a list of values, or "
                 "`{low, high, log}` for a number (random and tpe). |")
    return "\n".join(lines) + "\n"
