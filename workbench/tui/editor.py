"""Open a file in the user's editor ($VISUAL, $EDITOR, else vi) with the TUI suspended."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

from textual.app import App, SuspendNotSupported


def editor_command() -> tuple[list[str] | None, list[str]]:
    """(the editor's argv, or None; what was tried, for the message when none is found)."""
    tried = []
    for var in ("VISUAL", "EDITOR"):
        value = os.environ.get(var, "").strip()
        if not value:
            continue
        try:
            argv = shlex.split(value)  # EDITOR="code --wait" is common
        except ValueError:
            argv = []
        if argv and shutil.which(argv[0]):
            return argv, tried
        tried.append(f"${var}={value!r}")
    if shutil.which("vi"):
        return ["vi"], tried
    return None, tried + ["vi"]


def edit_file(app: App, path: Path) -> bool:
    """Run the editor on `path` in the terminal the app gives up meanwhile. False (and a
    notification says why) when no editor ran."""
    argv, tried = editor_command()
    if argv is None:
        app.notify(f"no editor found (tried {', '.join(tried)}): set $EDITOR, e.g. export EDITOR=nano",
                   severity="error", timeout=10)
        return False
    try:
        with app.suspend():
            code = subprocess.call([*argv, str(path)])
    except SuspendNotSupported:
        app.notify(f"this terminal cannot be handed to an editor; edit {path} elsewhere (the tree follows it)",
                   severity="warning", timeout=10)
        return False
    except OSError as e:
        app.notify(f"could not run {argv[0]}: {e}", severity="error", timeout=10)
        return False
    if code != 0:
        app.notify(f"{argv[0]} exited with status {code}", severity="warning")
    return True
