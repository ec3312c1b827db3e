"""The example experiment files that ship with workbench, and `workbench init`'s copy of them.

In a checkout they are the repo's experiments/ folder; in an installed wheel the same files
are the package data `workbench.examples` (setup.py maps the folder there), so a regular
install has them too.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

GITIGNORE_LINE = "runs/"


def examples_root() -> Traversable:
    try:
        return importlib.resources.files("workbench.examples")
    except ModuleNotFoundError:  # a checkout on PYTHONPATH, or an editable install made before the mapping
        return Path(__file__).resolve().parent.parent / "experiments"


def example_files(root: Traversable | None = None, prefix: str = "") -> list[tuple[str, Traversable]]:
    """(relative path, file) of every .toml file, subfolders (ladder/) included, sorted."""
    root = examples_root() if root is None else root
    found: list[tuple[str, Traversable]] = []
    for entry in root.iterdir():
        if entry.is_dir() and not entry.name.startswith(("_", ".")):
            found += example_files(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".toml"):
            found.append((prefix + entry.name, entry))
    return sorted(found)


@dataclass
class InitReport:
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # there already and left alone
    gitignore: str = ""  # "written", "added runs/", or "" when it already ignored runs/


def init_folder(folder: Path, force: bool = False) -> InitReport:
    """Write experiments/ and a .gitignore for runs/ into `folder`; existing files are kept
    unless `force`."""
    report = InitReport()
    for rel, src in example_files():
        dest = folder / "experiments" / rel
        if dest.exists() and not force:
            report.kept.append(f"experiments/{rel}")
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(src.read_bytes())
        report.written.append(f"experiments/{rel}")
    report.gitignore = _ignore_runs(folder / ".gitignore")
    return report


def _ignore_runs(path: Path) -> str:
    if not path.exists():
        path.write_text(GITIGNORE_LINE + "\n")
        return "written"
    text = path.read_text()
    if any(line.strip() in ("runs", "runs/", "/runs", "/runs/") for line in text.splitlines()):
        return ""
    path.write_text(text + ("" if text.endswith("\n") or not text else "\n") + GITIGNORE_LINE + "\n")
    return "added runs/"
