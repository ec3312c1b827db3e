"""The experiment files of a folder, read and validated with workbench.config, cached by mtime.

The tree on the home screen asks `changed()` every few seconds (stat calls only) and `scan()`
when something changed; a file is parsed and validated again only when it or a file of its
`extends` chain changed. A file that would not start (parse error, unknown key, bad type,
broken extends) carries the config loader's one-line error.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from workbench.command_file import load_command
from workbench.config import load_config, read_toml
from workbench.errors import WorkbenchError
from workbench.sweep_config import load_sweep


@dataclass
class Experiment:
    path: Path
    name: str  # path relative to the experiments dir, without .toml
    description: str = ""
    extends: str = ""
    error: str = ""  # why it would not start, one line; "" when it validates


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class ExperimentFiles:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.signature_scanned: tuple | None = None  # the folder's signature at the last scan
        self._lock = threading.Lock()  # the tree scans in a worker, and on the UI thread after an edit
        self._raw: dict[Path, tuple] = {}  # path -> (stamp, raw dict or None, parse error)
        self._checked: dict[Path, tuple] = {}  # path -> (stamps of its chain, error)

    def signature(self) -> tuple:
        """Every .toml file with its mtime and size: cheap to take, changes with any edit."""
        try:
            paths = sorted(self.folder.rglob("*.toml"))
        except OSError:
            return ()
        return tuple((p, _stamp(p)) for p in paths)

    def changed(self) -> bool:
        return self.signature() != self.signature_scanned

    def scan(self) -> list[Experiment]:
        return self.scan_with_signature()[0]

    def scan_with_signature(self) -> tuple[list[Experiment], tuple]:
        with self._lock:
            signature = self.signature_scanned = self.signature()
            return self._scan(signature), signature

    def _scan(self, signature: tuple) -> list[Experiment]:
        out = []
        for path, stamp in signature:
            name = path.relative_to(self.folder).with_suffix("").as_posix()
            raw, error = self._read(path, stamp)
            if raw is None:
                out.append(Experiment(path, name, error=self._one_line(error, path)))
                continue
            exp = raw.get("experiment", {})
            exp = exp if isinstance(exp, dict) else {}
            error = self._validate(path, raw)
            out.append(Experiment(path, name, str(exp.get("description", "")), str(exp.get("extends", "")),
                                  self._one_line(error, path)))
        return out

    def _read(self, path: Path, stamp) -> tuple[dict | None, str]:
        cached = self._raw.get(path)
        if cached is None or cached[0] != stamp:
            try:
                cached = (stamp, read_toml(path), "")
            except WorkbenchError as e:
                cached = (stamp, None, str(e))
            self._raw[path] = cached
        return cached[1], cached[2]

    def _chain_stamps(self, path: Path, raw: dict) -> tuple:
        """The stamps of the file and the files it extends (a parent's edit can break a child)."""
        stamps, seen = [], set()
        while raw is not None and path.resolve() not in seen and len(seen) < 32:
            seen.add(path.resolve())
            stamps.append((path, _stamp(path)))
            exp = raw.get("experiment")
            parent = exp.get("extends") if isinstance(exp, dict) else None
            if not parent or not isinstance(parent, str):
                break
            path = path.parent / parent
            raw = self._read(path, _stamp(path))[0] if path.is_file() else None
            if raw is None:
                stamps.append((path, _stamp(path)))
        return tuple(stamps)

    def _validate(self, path: Path, raw: dict) -> str:
        stamps = self._chain_stamps(path, raw)
        cached = self._checked.get(path)
        if cached is not None and cached[0] == stamps:
            return cached[1]
        try:
            if "sweep" in raw:
                load_sweep(path)
            elif isinstance(raw.get("command"), dict):  # someone's own script: `workbench run` reads it as a command file
                load_command(path)
            else:
                load_config(path)
            error = ""
        except WorkbenchError as e:
            error = str(e)
        except Exception as e:  # noqa: BLE001 - a file must never break the tree; say what it was
            error = f"{type(e).__name__}: {e}"
        self._checked[path] = (stamps, error)
        return error

    def _one_line(self, error: str, path: Path) -> str:
        """The error without the folder's path (the tree names the file) and on one line."""
        if not error:
            return ""
        for prefix in (f"{path}: ", f"{path} "):
            error = error.removeprefix(prefix)
        error = error.replace(f"{self.folder}/", "")
        return " ".join(error.split())
