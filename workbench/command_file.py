"""`[command]` experiment files: your own training command, started and recorded by workbench.

    [experiment]
    name = "nanogpt-char"
    description = "nanoGPT's char model, unchanged"

    [command]
    argv = ["python", "train.py", "config/train_shakespeare_char.py", "--max_iters=2000"]
    cwd = "../nanoGPT"                 # relative to this file
    env = { CUDA_VISIBLE_DEVICES = "0" }
    record_env = ["WANDB_MODE"]

A file with a [command] table is a command experiment; it has no other sections than
[experiment] and [command]. `workbench run FILE` and the TUI's `s` start it.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass
from pathlib import Path

from workbench.config import _suggest, check_value, key, key_table, read_toml
from workbench.errors import WorkbenchError


@dataclass
class CommandConfig:
    argv: list = key([], "The command and its arguments, e.g. [\"python\", \"train.py\", \"--lr=3e-4\"].")
    run: str = key("", "The command as one line, split like a shell does (no pipes, no variables); instead of argv.")
    cwd: str = key("", "Folder it runs in, relative to the experiment file; empty means the file's folder.")
    env: dict = dataclasses.field(default_factory=dict, metadata={
        "doc": "Environment variables set for the command (and recorded), e.g. { CUDA_VISIBLE_DEVICES = \"0\" }.",
        "choices": None})
    record_env: list = key([], "Names of environment variables to record as they are (e.g. [\"CUDA_VISIBLE_DEVICES\"]).")
    capture: list = key([], "Regular expressions with named groups read from its output; a group named step is the step.")
    stop_grace: float = key(10.0, "Seconds between SIGTERM and SIGKILL when the run is stopped.")
    telemetry_interval: float = key(1.0, "Seconds between CPU/RSS/GPU samples of its processes (0 = off).")


@dataclass
class CommandSpec:
    """What the runner needs: a command file's [command] or `workbench run -- CMD`'s options."""

    argv: list[str]
    cwd: str
    name: str
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    record_env: list[str] = dataclasses.field(default_factory=list)
    capture: list[str] = dataclasses.field(default_factory=list)
    stop_grace: float = 10.0
    telemetry_interval: float = 1.0
    description: str = ""
    tags: list[str] = dataclasses.field(default_factory=list)
    experiment_file: str = ""

    def recorded_env(self) -> dict[str, str]:
        import os

        out = {k: os.environ[k] for k in self.record_env if k in os.environ}
        return {**out, **self.env}

    def config(self) -> dict:
        """The run's config.toml: what decides what this run does, diffable between runs."""
        return {"command": {"argv": self.argv, "cwd": self.cwd, "env": self.recorded_env()}}


FIELDS = {f.name: f for f in dataclasses.fields(CommandConfig)}


def is_command_file(path: str | Path) -> bool:
    """Does this TOML file hold a [command] table? (False for anything unreadable: the
    experiment loader then says what is wrong with it.)"""
    try:
        return isinstance(read_toml(Path(path)).get("command"), dict)
    except WorkbenchError:
        return False


def load_command(path: str | Path) -> CommandSpec:
    path = Path(path)
    where = str(path)
    raw = read_toml(path)
    for section in raw:
        if section not in ("experiment", "command"):
            raise WorkbenchError(f"{where}: a [command] experiment has only [experiment] and [command]; "
                                 f"remove [{section}]")
    exp = raw.get("experiment", {})
    body = raw["command"]
    values = {}
    for name, value in body.items():
        if name not in FIELDS:
            raise WorkbenchError(f"{where}: unknown key 'command.{name}'"
                                 f"{_suggest('command.' + name, ['command.' + k for k in FIELDS])}")
        if name == "env":
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise WorkbenchError(f"{where}: 'command.env' must be a table of strings, like "
                                     "{ CUDA_VISIBLE_DEVICES = \"0\" }")
            values[name] = dict(value)
            continue
        values[name] = check_value(where, f"command.{name}", FIELDS[name], value)
    cfg = CommandConfig(**values)
    if bool(cfg.argv) == bool(cfg.run):
        raise WorkbenchError(f"{where}: set one of 'command.argv' (a list) or 'command.run' (a line)")
    try:
        argv = list(cfg.argv) or shlex.split(cfg.run)
    except ValueError as e:
        raise WorkbenchError(f"{where}: 'command.run' cannot be split into arguments ({e})") from None
    if cfg.stop_grace < 0 or cfg.telemetry_interval < 0:
        raise WorkbenchError(f"{where}: 'command.stop_grace' and 'command.telemetry_interval' must not be negative")
    cwd = (path.parent / Path(cfg.cwd).expanduser()).resolve()
    if not cwd.is_dir():
        raise WorkbenchError(f"{where}: 'command.cwd' names {cwd}, which is not a folder")
    if not isinstance(exp, dict):
        raise WorkbenchError(f"{where}: [experiment] must be a table")
    from workbench.capture import compile_regex

    for text in cfg.capture:
        compile_regex(text, f"{where}: command.capture")
    return CommandSpec(argv=argv, cwd=str(cwd), name=str(exp.get("name") or path.stem), env=cfg.env,
                       record_env=list(cfg.record_env), capture=list(cfg.capture), stop_grace=cfg.stop_grace,
                       telemetry_interval=cfg.telemetry_interval, description=str(exp.get("description", "")),
                       tags=[str(t) for t in exp.get("tags", [])], experiment_file=str(path))


def reference_markdown() -> str:
    return "\n".join(key_table("command", FIELDS.values())) + "\n"
