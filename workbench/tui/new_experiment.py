"""Save overrides as a new experiment file: it `extends` the file they were typed for and holds
only the overridden keys, so it reads as the difference it is. No Textual here."""

from __future__ import annotations

import re
from pathlib import Path

from workbench.config import apply_overrides, load_config
from workbench.errors import WorkbenchError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def suggest_name(base: Path, overrides: list[str]) -> str:
    """'tiny' + ['train.lr=3e-4'] -> 'tiny-lr3e-4' (a starting point the user edits)."""
    parts = [o.split("=", 1)[0].rsplit(".", 1)[-1] + o.split("=", 1)[-1] for o in overrides]
    name = re.sub(r"[^A-Za-z0-9._-]+", "", "-".join([base.stem, *parts]))
    return name[:48].rstrip("-.") or f"{base.stem}-new"


def new_experiment_text(base: Path, overrides: list[str]) -> str:
    """The new file's TOML: [experiment] extends = base, then the overridden keys only (values as
    --set reads them; data paths made absolute, as --set resolves them against the cwd)."""
    import tomli_w

    keys = apply_overrides({}, overrides)  # checks every key and value
    exp = keys.pop("experiment", {})
    if "extends" in exp:
        raise WorkbenchError(f"experiment.extends: the new file extends {base.name}; leave it out")
    doc = {"experiment": {"extends": base.name, **exp}, **keys}
    said = " ".join(" ".join(overrides).split())  # a comment is one line
    return f"# {base.name} + {said} (saved from the workbench TUI)\n" + tomli_w.dumps(doc)


def save_new_experiment(base: Path, name: str, overrides: list[str]) -> Path:
    """Write `<name>.toml` beside `base`; never over an existing file. Returns its path once it
    validates (WorkbenchError, with no file left behind, otherwise)."""
    name = name.strip().removesuffix(".toml")
    if not NAME.fullmatch(name):
        raise WorkbenchError(f"name {name!r}: use letters, digits, '.', '_' and '-' (no folders)")
    if not overrides:
        raise WorkbenchError("no overrides to save: type some first, like train.lr=3e-4")
    load_config(base, overrides)  # the loader's own message when they do not apply to this file
    text = new_experiment_text(base, overrides)
    path = base.parent / f"{name}.toml"
    try:
        with open(path, "x", encoding="utf-8") as fh:  # "x": refuses a file that exists, even one just made
            fh.write(text)
    except FileExistsError:
        raise WorkbenchError(f"{path.name} exists already: choose another name") from None
    except OSError as e:
        raise WorkbenchError(f"cannot write {path}: {e.strerror}") from None
    try:
        load_config(path)
    except WorkbenchError:
        path.unlink(missing_ok=True)
        raise
    return path
